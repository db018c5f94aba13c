package dev.kaze.training;

import java.util.List;

/**
 * How windows are cut from a video ({@code target_frames}, {@code frame_extraction}, {@code frame_stride},
 * {@code frame_sample}, {@code max_frames}, {@code source_fps}). {@code targetFrames} is already deduplicated,
 * sorted and rounded down to 4k+1; {@code uniform} with {@code frame_sample = 1} is already {@code head}.
 *
 * @param sourceFps the clips' frame rate for decimation to 16 fps, or null for none (every decoded frame is used)
 */
public record FrameSettings(List<Integer> targetFrames, FrameExtraction extraction, int frameStride, int frameSample,
                            int maxFrames, Double sourceFps) {
    public static final int DEFAULT_MAX_FRAMES = 129;

    public FrameSettings {
        targetFrames = List.copyOf(targetFrames);
        if (targetFrames.isEmpty()) throw new IllegalArgumentException("target_frames is empty");
    }

    /** Defaults of musubi-tuner: target_frames [1], head, stride 1, sample 1, max_frames 129, no source_fps. */
    public static FrameSettings defaults() {
        return new FrameSettings(List.of(1), FrameExtraction.HEAD, 1, 1, DEFAULT_MAX_FRAMES, null);
    }

    public FrameSettings withTargets(List<Integer> targets) {
        return new FrameSettings(targets, extraction, frameStride, frameSample, maxFrames, sourceFps);
    }

    public FrameSettings withExtraction(FrameExtraction mode) {
        return new FrameSettings(targetFrames, mode, frameStride, frameSample, maxFrames, sourceFps);
    }

    public int maxTarget() {
        return targetFrames.getLast();
    }
}
