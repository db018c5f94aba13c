package dev.kaze.pipeline;

/**
 * Decoded frames as packed RGB bytes: {@code rgb[((t·height + y)·width + x)·3 + c]}.
 */
public record GeneratedVideo(GenerateRequest.Resolved request, String modelId, int frames, int height, int width, int fps, byte[] rgb) {
    public GeneratedVideo {
        if ((long) frames * height * width * 3 != rgb.length)
            throw new IllegalArgumentException("rgb holds " + rgb.length + " bytes, expected " + frames + "x" + height + "x" + width + "x3");
    }

    /** One frame's bytes (a copy). */
    public byte[] frame(int t) {
        int size = height * width * 3;
        byte[] out = new byte[size];
        System.arraycopy(rgb, t * size, out, 0, size);
        return out;
    }
}
