package dev.kaze.training;

import java.nio.file.Path;

/**
 * One training item: an image, or one {@code (start, T)} window of a video.
 *
 * @param original       the media's own size (first frame for videos)
 * @param bucket         the size the pixels are resized and cropped to (the latent is bucket/8)
 * @param trainingBucket musubi-tuner's grouping key size, computed with the dataset's enable_bucket /
 *                       bucket_no_upscale; differs from {@code bucket} only for videos with the legacy caching quirk
 * @param start          first frame of the window, in the decoded (after source_fps) sequence; 0 for images
 * @param frames         T, frames in the window; 1 for images
 * @param sourceFps      the dataset's source_fps (decimation), or null
 */
public record TrainingItem(int dataset, Path media, String caption, boolean video, Size original, Size bucket,
                           Size trainingBucket, int start, int frames, Double sourceFps) {

    public String stem() {
        String name = media.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /** musubi-tuner's latent cache file name ({stem}_{W:04d}x{H:04d}_wan / {stem}_{start:05d}-{T:03d}_...). */
    public String latentCacheName() {
        String size = String.format("%04dx%04d", original.width(), original.height());
        return video
                ? String.format("%s_%05d-%03d_%s_wan.safetensors", stem(), start, frames, size)
                : stem() + "_" + size + "_wan.safetensors";
    }

    /** musubi-tuner's text-encoder cache file name, shared by every window of a video. */
    public String textCacheName() {
        return stem() + "_wan_te.safetensors";
    }

    /** The source (file) frame indices of the window's frames, after source_fps decimation. */
    public int[] sourceFrameIndices() {
        if (!video) return new int[]{0};
        int[] kept = FrameWindows.firstKept(start + frames, sourceFps);
        int[] out = new int[frames];
        System.arraycopy(kept, start, out, 0, frames);
        return out;
    }
}
