// Port of musubi-tuner dataset/image_video_dataset.py, VideoDataset frame extraction and load_video's source_fps decimation
package dev.kaze.training;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Port of musubi-tuner's frame extraction (VideoDataset.__init__ / retrieve_latent_cache_batches, load_video's
 * source_fps decimation): which {@code (start, T)} windows a clip of {@code N} decoded frames yields. Pure functions
 * on counts; no media. Unlike musubi, target frame counts a clip is too short for are reported, not silently dropped.
 */
public final class FrameWindows {
    /** Frames {@code [start, start + frames)} of the decoded (after source_fps decimation) frame sequence. */
    public record Window(int start, int frames) {
        public int end() {
            return start + frames;
        }

        /** Latent frames after the Wan VAE's 4× causal time compression: 1 + (T-1)/4. */
        public int latentFrames() {
            return 1 + (frames - 1) / 4;
        }
    }

    /**
     * The windows of one clip and the target frame counts it is too short for.
     *
     * @param decodedFrames the N the windows were cut from (capped at max(target_frames) in head mode)
     */
    public record Plan(int decodedFrames, List<Window> windows, List<Integer> tooShortFor) {
        public Plan {
            windows = List.copyOf(windows);
            tooShortFor = List.copyOf(tooShortFor);
        }
    }

    private FrameWindows() {
    }

    /** {@code (f-1)//4*4+1}: rounded down to the nearest 4k+1 (45→45, 24→21, 48→45, 1→1). */
    public static int roundDown4k1(int f) {
        if (f < 1) throw new IllegalArgumentException("a frame count must be at least 1, got " + f);
        return (f - 1) / 4 * 4 + 1;
    }

    /** musubi's target_frames normalisation: dedupe and sort, round each down to 4k+1, dedupe and sort again. */
    public static List<Integer> roundTargets(List<Integer> targets) {
        TreeSet<Integer> out = new TreeSet<>();
        for (int f : new TreeSet<>(targets)) out.add(roundDown4k1(f));
        return List.copyOf(out);
    }

    /** How many frames are decoded for a clip of {@code clipFrames} (after decimation): head stops at max(T). */
    public static int decodedFrames(int clipFrames, FrameSettings s) {
        return s.extraction() == FrameExtraction.HEAD ? Math.min(clipFrames, s.maxTarget()) : clipFrames;
    }

    /** The windows of a clip with {@code clipFrames} frames (after source_fps decimation, see {@link #decimate}). */
    public static Plan plan(int clipFrames, FrameSettings s) {
        if (clipFrames < 0) throw new IllegalArgumentException("frame count must not be negative, got " + clipFrames);
        int n = decodedFrames(clipFrames, s);
        List<Window> windows = new ArrayList<>();
        List<Integer> tooShort = new ArrayList<>();
        if (s.extraction() == FrameExtraction.FULL) {
            if (n < 1) tooShort.add(1);
            else windows.add(new Window(0, roundDown4k1(Math.min(n, s.maxFrames()))));
            return new Plan(n, windows, tooShort);
        }
        for (int t : s.targetFrames()) {
            int before = windows.size();
            switch (s.extraction()) {
                case HEAD -> {
                    if (n >= t) windows.add(new Window(0, t));
                }
                case CHUNK -> {
                    for (int i = 0; i < n; i += t)
                        if (i + t <= n) windows.add(new Window(i, t));
                }
                case SLIDE -> {
                    if (n >= t)
                        for (int i = 0; i < n - t + 1; i += s.frameStride()) windows.add(new Window(i, t));
                }
                case UNIFORM -> {
                    if (n >= t)
                        for (int i : linspaceTruncated(n - t, s.frameSample())) windows.add(new Window(i, t));
                }
                case FULL -> throw new AssertionError();
            }
            if (windows.size() == before) tooShort.add(t);
        }
        return new Plan(n, windows, tooShort);
    }

    /** {@code numpy.linspace(0, stop, num, dtype=int)}: evenly spaced floats, truncated towards zero. */
    static int[] linspaceTruncated(int stop, int num) {
        int[] out = new int[num];
        if (num == 1) return out;
        double step = (double) stop / (num - 1);
        for (int k = 0; k < num; k++) out[k] = (int) (k == num - 1 ? stop : k * step);
        return out;
    }

    /**
     * source_fps decimation to 16 fps (load_video): the source frame index of each kept frame, in order. With
     * {@code sourceFps} null every frame is kept.
     */
    public static int[] decimate(int sourceFrames, Double sourceFps) {
        if (sourceFps == null) {
            int[] all = new int[sourceFrames];
            for (int k = 0; k < sourceFrames; k++) all[k] = k;
            return all;
        }
        double delta = 16.0 / sourceFps;
        double acc = 0.0;
        long prev = -1;
        List<Integer> kept = new ArrayList<>();
        for (int k = 0; k < sourceFrames; k++) {
            long idx = (long) Math.floor(acc);
            acc += delta;
            if (idx == prev) continue;
            prev = idx;
            kept.add(k);
        }
        return kept.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The source frame indices of the first {@code count} frames kept by {@link #decimate} (no file length limit). */
    public static int[] firstKept(int count, Double sourceFps) {
        int[] out = new int[count];
        if (sourceFps == null) {
            for (int k = 0; k < count; k++) out[k] = k;
            return out;
        }
        double delta = 16.0 / sourceFps, acc = 0.0;
        long prev = -1;
        for (int k = 0, n = 0; n < count; k++) {
            long idx = (long) Math.floor(acc);
            acc += delta;
            if (idx == prev) continue;
            prev = idx;
            out[n++] = k;
        }
        return out;
    }
}
