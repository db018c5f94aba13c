// Port of musubi-tuner dataset/bucket.py, BucketSelector, and media_utils.resize_image_to_bucket's size arithmetic
package dev.kaze.training;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.Comparator;

/**
 * Port of musubi-tuner's dataset/bucket.py BucketSelector (Wan: 16-pixel steps): the aspect-ratio buckets of a target
 * area and the bucket chosen for a media size.
 */
public final class BucketSelector {
    /** RESOLUTION_STEPS_WAN. */
    public static final int STEP = 16;

    private final Size resolution;
    private final boolean enableBucket;
    private final boolean noUpscale;
    private final List<Size> buckets;

    /** {@code noUpscale} only applies with {@code enableBucket} (musubi forces it off otherwise). */
    public BucketSelector(Size resolution, boolean enableBucket, boolean noUpscale) {
        this.resolution = resolution;
        this.enableBucket = enableBucket;
        this.noUpscale = enableBucket && noUpscale;
        this.buckets = enableBucket ? bucketList(resolution) : List.of(resolution);
    }

    public static int floor16(long x) {
        return (int) (x - x % STEP);
    }

    /** The buckets for a target area W×H, sorted by (w, h). */
    public static List<Size> bucketList(Size resolution) {
        long area = resolution.area();
        int sqrtSize = (int) Math.sqrt((double) area);
        int minSize = floor16(sqrtSize / 2);
        TreeSet<Size> set = new TreeSet<>(Comparator.comparingInt(Size::width).thenComparingInt(Size::height));
        for (int w = minSize; w < sqrtSize + STEP; w += STEP) {
            int h = floor16(area / w);
            set.add(new Size(w, h));
            set.add(new Size(h, w));
        }
        return List.copyOf(new ArrayList<>(set));
    }

    public List<Size> buckets() {
        return buckets;
    }

    public Size resolution() {
        return resolution;
    }

    /** get_bucket_resolution: the media's own size floored to 16 (no_upscale, small media), else the nearest ratio. */
    public Size select(Size media) {
        if (noUpscale && media.area() <= resolution.area()) {
            int w = floor16(media.width()), h = floor16(media.height());
            if (w < STEP || h < STEP)
                throw new IllegalArgumentException("media of " + media + " is smaller than 16 pixels on a side;"
                        + " it cannot be bucketed without upscaling");
            return new Size(w, h);
        }
        double ratio = (double) media.width() / media.height();
        Size best = buckets.getFirst();
        double bestErr = Double.POSITIVE_INFINITY;
        for (Size b : buckets) {
            double err = Math.abs((double) b.width() / b.height() - ratio);
            if (err < bestErr) { // strict: the first of equal errors wins, as np.argmin
                bestErr = err;
                best = b;
            }
        }
        return best;
    }

    /**
     * Resize-to-cover then centre-crop (media_utils.resize_image_to_bucket, the current musubi-tuner version):
     * {@code scale = max(bw/iw, bh/ih)}, {@code scaled = round-half-up(i·scale)}, crop offsets {@code (scaled-b)//2}.
     */
    public record CoverCrop(Size media, Size scaled, int cropLeft, int cropTop, Size bucket) {
        public static CoverCrop of(Size media, Size bucket) {
            if (media.equals(bucket)) return new CoverCrop(media, media, 0, 0, bucket);
            double scale = Math.max((double) bucket.width() / media.width(), (double) bucket.height() / media.height());
            int nw = (int) (media.width() * scale + 0.5);
            int nh = (int) (media.height() * scale + 0.5);
            nw = Math.max(nw, bucket.width()); // guard against a float shortfall of one pixel
            nh = Math.max(nh, bucket.height());
            return new CoverCrop(media, new Size(nw, nh), (nw - bucket.width()) / 2, (nh - bucket.height()) / 2, bucket);
        }

        public boolean upscales() {
            return scaled.area() > media.area();
        }
    }
}
