package dev.kaze.training;

import java.awt.image.BufferedImage;

/** Packed 8-bit RGB, {@code rgb[(y·width + x)·3 + c]}; the array is used as is. */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width < 1 || height < 1) throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        if (rgb.length != width * height * 3)
            throw new IllegalArgumentException("rgb holds " + rgb.length + " bytes, " + width + "x" + height + " needs " + width * height * 3);
    }

    public Size size() {
        return new Size(width, height);
    }

    /** The RGB of any BufferedImage; an alpha channel is discarded, not composited (as musubi-tuner does). */
    public static RgbImage of(BufferedImage image) {
        int w = image.getWidth(), h = image.getHeight();
        int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
        byte[] rgb = new byte[w * h * 3];
        for (int k = 0; k < argb.length; k++) {
            int p = argb[k];
            rgb[k * 3] = (byte) (p >> 16);
            rgb[k * 3 + 1] = (byte) (p >> 8);
            rgb[k * 3 + 2] = (byte) p;
        }
        return new RgbImage(w, h, rgb);
    }

    public BufferedImage toBufferedImage() {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] px = new int[width * height];
        for (int k = 0; k < px.length; k++)
            px[k] = (rgb[k * 3] & 0xff) << 16 | (rgb[k * 3 + 1] & 0xff) << 8 | (rgb[k * 3 + 2] & 0xff);
        out.setRGB(0, 0, width, height, px, 0, width);
        return out;
    }
}
