// Port of musubi-tuner dataset/media_utils.py, resize_image_to_bucket (pixels)
package dev.kaze.training;

import java.awt.image.BufferedImage;

/**
 * Resizes media to its bucket the way musubi-tuner does (scale to cover, then centre-crop): Lanczos3 when the scale
 * is above 1 (PIL LANCZOS there), area averaging otherwise (cv2 INTER_AREA). Not pixel-identical to PIL/OpenCV.
 */
public final class BucketResize {
    private BucketResize() {
    }

    public static RgbImage toBucket(RgbImage image, Size bucket) {
        BucketSelector.CoverCrop plan = BucketSelector.CoverCrop.of(image.size(), bucket);
        RgbImage scaled = plan.scaled().equals(image.size()) ? image : resize(image, plan.scaled());
        return crop(scaled, plan.cropLeft(), plan.cropTop(), bucket);
    }

    public static BufferedImage toBucket(BufferedImage image, Size bucket) {
        return toBucket(RgbImage.of(image), bucket).toBufferedImage();
    }

    public static RgbImage crop(RgbImage image, int left, int top, Size size) {
        if (left < 0 || top < 0 || left + size.width() > image.width() || top + size.height() > image.height())
            throw new IllegalArgumentException("crop " + size + " at (" + left + "," + top + ") is outside " + image.size());
        if (left == 0 && top == 0 && image.size().equals(size)) return image;
        byte[] out = new byte[size.width() * size.height() * 3];
        for (int y = 0; y < size.height(); y++)
            System.arraycopy(image.rgb(), ((top + y) * image.width() + left) * 3, out, y * size.width() * 3, size.width() * 3);
        return new RgbImage(size.width(), size.height(), out);
    }

    /** Separable resize; Lanczos3 when enlarging on both axes overall, area averaging when shrinking. */
    public static RgbImage resize(RgbImage image, Size size) {
        boolean up = size.area() > image.size().area();
        float[] rows = new float[image.width() * image.height() * 3];
        for (int k = 0; k < rows.length; k++) rows[k] = image.rgb()[k] & 0xff;
        // horizontal pass: [H, W, 3] → [H, W', 3]
        Weights wx = weights(image.width(), size.width(), up);
        float[] mid = new float[image.height() * size.width() * 3];
        for (int y = 0; y < image.height(); y++)
            for (int x = 0; x < size.width(); x++)
                for (int c = 0; c < 3; c++) {
                    float acc = 0;
                    for (int j = 0; j < wx.count[x]; j++)
                        acc += wx.weight[x][j] * rows[(y * image.width() + wx.first[x] + j) * 3 + c];
                    mid[(y * size.width() + x) * 3 + c] = acc;
                }
        // vertical pass: [H, W', 3] → [H', W', 3]
        Weights wy = weights(image.height(), size.height(), up);
        byte[] out = new byte[size.width() * size.height() * 3];
        for (int y = 0; y < size.height(); y++)
            for (int x = 0; x < size.width(); x++)
                for (int c = 0; c < 3; c++) {
                    float acc = 0;
                    for (int j = 0; j < wy.count[y]; j++)
                        acc += wy.weight[y][j] * mid[((wy.first[y] + j) * size.width() + x) * 3 + c];
                    out[(y * size.width() + x) * 3 + c] = (byte) Math.clamp(Math.round(acc), 0, 255);
                }
        return new RgbImage(size.width(), size.height(), out);
    }

    private record Weights(int[] first, int[] count, float[][] weight) {
    }

    /** Per output pixel: the first input pixel, how many, and normalised weights. */
    private static Weights weights(int in, int out, boolean lanczos) {
        int[] first = new int[out], count = new int[out];
        float[][] weight = new float[out][];
        double scale = (double) in / out; // input pixels per output pixel
        for (int o = 0; o < out; o++) {
            int lo, hi;
            double[] w;
            if (lanczos) {
                double support = 3.0 * Math.max(scale, 1.0);
                double centre = (o + 0.5) * scale;
                double filterScale = Math.max(scale, 1.0);
                lo = Math.max(0, (int) Math.floor(centre - support));
                hi = Math.min(in, (int) Math.ceil(centre + support));
                w = new double[hi - lo];
                for (int i = lo; i < hi; i++) w[i - lo] = lanczos3((i + 0.5 - centre) / filterScale);
            } else {
                double a = o * scale, b = (o + 1) * scale; // footprint of the output pixel in input coordinates
                lo = (int) Math.floor(a);
                hi = Math.min(in, (int) Math.ceil(b));
                w = new double[hi - lo];
                for (int i = lo; i < hi; i++) w[i - lo] = Math.max(0, Math.min(b, i + 1) - Math.max(a, i));
            }
            double sum = 0;
            for (double v : w) sum += v;
            float[] norm = new float[w.length];
            for (int k = 0; k < w.length; k++) norm[k] = (float) (sum == 0 ? 0 : w[k] / sum);
            first[o] = lo;
            count[o] = hi - lo;
            weight[o] = norm;
        }
        return new Weights(first, count, weight);
    }

    private static double lanczos3(double x) {
        if (x == 0) return 1;
        if (Math.abs(x) >= 3) return 0;
        double px = Math.PI * x;
        return 3 * Math.sin(px) * Math.sin(px / 3) / (px * px);
    }
}
