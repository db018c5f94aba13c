package dev.kaze.video;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Synthetic clips and an independent MP4 box reader for the video tests. */
final class TestClips {
    private TestClips() {
    }

    /**
     * A moving gradient: red ramps across x and slides right 3 px per frame (a triangle wave, so without a hard edge),
     * green ramps down y, blue rises over time. Every frame has a different mean colour.
     */
    static RgbFrames movingGradient(int frames, int height, int width, int fps) {
        byte[] rgb = new byte[frames * height * width * 3];
        for (int t = 0; t < frames; t++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++) {
                    int i = ((t * height + y) * width + x) * 3;
                    double phase = ((x + 3.0 * t) % (2.0 * width)) / width; // 0..2
                    double tri = phase <= 1 ? phase : 2 - phase;            // 0..1..0
                    rgb[i] = (byte) Math.round(20 + 215 * tri);
                    rgb[i + 1] = (byte) Math.round(30 + 190.0 * y / (height - 1));
                    rgb[i + 2] = (byte) Math.round(40 + 170.0 * t / Math.max(1, frames - 1));
                }
        return new RgbFrames(frames, height, width, fps, rgb);
    }

    /** Mean of each channel of frame {@code t}. */
    static double[] meanColour(RgbFrames video, int t) {
        double[] sum = new double[3];
        int off = video.frameOffset(t);
        for (int i = 0; i < video.frameBytes(); i++) sum[i % 3] += video.rgb()[off + i] & 0xff;
        int n = video.width() * video.height();
        return new double[]{sum[0] / n, sum[1] / n, sum[2] / n};
    }

    /** Types of the top-level boxes of an ISO base media (MP4) file, in file order. */
    static List<String> topLevelBoxes(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        List<String> types = new ArrayList<>();
        long pos = 0;
        while (pos + 8 <= bytes.length) {
            long size = Integer.toUnsignedLong(buf.getInt((int) pos));
            String type = new String(bytes, (int) pos + 4, 4, StandardCharsets.ISO_8859_1);
            if (size == 1) size = buf.getLong((int) pos + 8);
            else if (size == 0) size = bytes.length - pos;
            if (size < 8) throw new IOException("bad box size " + size + " for '" + type + "' at " + pos + " in " + file);
            types.add(type);
            pos += size;
        }
        if (pos != bytes.length) throw new IOException("boxes of " + file + " end at " + pos + ", file has " + bytes.length + " bytes");
        return types;
    }
}
