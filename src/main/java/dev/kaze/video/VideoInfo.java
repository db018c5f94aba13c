package dev.kaze.video;

/**
 * What ffprobe reports about a file's first video stream.
 *
 * @param codec           codec name, e.g. {@code h264}
 * @param pixFmt          pixel format, e.g. {@code yuv420p}
 * @param fps             the stream's real base frame rate ({@code r_frame_rate}), e.g. 16/1
 * @param frameCount      frames counted by decoding the stream ({@code nb_read_frames}), or the container's
 *                        count ({@code nb_frames}) where decoding was not asked for; -1 if neither is known
 * @param durationSeconds the stream's duration, or the container's; NaN if neither is known
 */
public record VideoInfo(String codec, String pixFmt, int width, int height, FrameRate fps, long frameCount,
                        double durationSeconds) {

    /** A frame rate as ffprobe writes it: {@code num/den}. */
    public record FrameRate(long num, long den) {
        public FrameRate {
            if (den <= 0) throw new IllegalArgumentException("frame rate denominator must be positive, got " + num + "/" + den);
        }

        /** Parses {@code "16/1"} or {@code "16"}. */
        public static FrameRate parse(String text) {
            try {
                int slash = text.indexOf('/');
                if (slash < 0) return new FrameRate(Long.parseLong(text.trim()), 1);
                return new FrameRate(Long.parseLong(text.substring(0, slash).trim()), Long.parseLong(text.substring(slash + 1).trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a frame rate (num/den): \"" + text + "\"", e);
            }
        }

        public double value() {
            return num / (double) den;
        }

        @Override
        public String toString() {
            return num + "/" + den;
        }
    }
}
