package dev.kaze.video;

/**
 * A clip as packed 8-bit RGB: {@code rgb[((t·height + y)·width + x)·3 + c]}, shown at {@code fps} frames per second.
 * The array is used as is (not copied).
 */
public record RgbFrames(int frames, int height, int width, int fps, byte[] rgb) {
    public RgbFrames {
        if (frames < 1)
            throw new IllegalArgumentException("a video needs at least one frame, got frames=" + frames);
        if (height < 1 || width < 1)
            throw new IllegalArgumentException("frame size must be positive, got " + width + "x" + height + " (width x height)");
        if (fps < 1)
            throw new IllegalArgumentException("fps must be a positive whole number, got " + fps);
        if (rgb == null)
            throw new IllegalArgumentException("rgb bytes are missing (null)");
        long expected = (long) frames * height * width * 3;
        if (rgb.length != expected)
            throw new IllegalArgumentException("rgb holds " + rgb.length + " bytes, but " + frames + " frames of "
                    + width + "x" + height + " RGB need " + expected + " (frames x height x width x 3)");
    }

    /** Bytes in one frame: height·width·3. */
    public int frameBytes() {
        return height * width * 3;
    }

    /** Offset of frame {@code t} in {@link #rgb()}. */
    public int frameOffset(int t) {
        if (t < 0 || t >= frames)
            throw new IndexOutOfBoundsException("frame " + t + " is outside 0.." + (frames - 1));
        return t * frameBytes();
    }

    /** Duration in seconds: frames / fps. */
    public double durationSeconds() {
        return frames / (double) fps;
    }
}
