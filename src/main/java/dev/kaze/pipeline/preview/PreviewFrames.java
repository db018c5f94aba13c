package dev.kaze.pipeline.preview;

/**
 * A preview of the clean-video estimate at latent resolution: {@code frames} images of
 * {@code width} x {@code height} pixels, RGB bytes row-major ({@code [F, H, W, 3]} uint8).
 *
 * @param seconds the time it took on the device thread (mapping and copy to the host)
 */
public record PreviewFrames(int frames, int width, int height, byte[] rgb, double seconds) {
    public PreviewFrames {
        if (frames < 1 || width < 1 || height < 1)
            throw new IllegalArgumentException("a preview needs at least one frame of one pixel, got " + frames + "x" + width + "x" + height);
        if ((long) frames * width * height * 3 != rgb.length)
            throw new IllegalArgumentException("preview of " + frames + "x" + width + "x" + height + " needs " + (3L * frames * width * height)
                    + " RGB bytes, got " + rgb.length);
    }

    /** Red, green and blue of pixel (x, y) of frame f, 0..255 each. */
    public int[] pixel(int f, int x, int y) {
        int at = ((f * height + y) * width + x) * 3;
        return new int[]{rgb[at] & 0xff, rgb[at + 1] & 0xff, rgb[at + 2] & 0xff};
    }
}
