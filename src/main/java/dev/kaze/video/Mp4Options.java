package dev.kaze.video;

import java.util.List;

/**
 * libx264 settings: {@code crf} (0 lossless .. 51 worst; 18 is visually lossless) and an x264 {@code preset}.
 */
public record Mp4Options(int crf, String preset) {
    /** x264 presets, fastest first. */
    public static final List<String> PRESETS = List.of("ultrafast", "superfast", "veryfast", "faster", "fast",
            "medium", "slow", "slower", "veryslow", "placebo");

    /** CRF 18, preset medium. */
    public static final Mp4Options DEFAULT = new Mp4Options(18, "medium");

    public Mp4Options {
        if (crf < 0 || crf > 51)
            throw new IllegalArgumentException("crf must be in 0..51 (lower is better quality; 18 is a good default), got " + crf);
        if (preset == null || !PRESETS.contains(preset))
            throw new IllegalArgumentException("preset must be one of " + String.join(", ", PRESETS) + ", got " + preset);
    }

    public Mp4Options withPreset(String preset) {
        return new Mp4Options(crf, preset);
    }
}
