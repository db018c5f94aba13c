package dev.kaze.training;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The worked examples of the musubi training spec §1.8–1.9 (expected values from the spec text). */
class FrameWindowsTest {
    private static FrameSettings settings(FrameExtraction mode, List<Integer> targets) {
        return FrameSettings.defaults().withExtraction(mode).withTargets(FrameWindows.roundTargets(targets));
    }

    private static FrameSettings settings(FrameExtraction mode, List<Integer> targets, int stride, int sample, int maxFrames) {
        return new FrameSettings(FrameWindows.roundTargets(targets), mode, stride, sample, maxFrames, null);
    }

    private static FrameWindows.Window w(int start, int frames) {
        return new FrameWindows.Window(start, frames);
    }

    @Test
    void roundsTargetsDownTo4kPlus1() {
        assertThat(FrameWindows.roundDown4k1(45)).isEqualTo(45);
        assertThat(FrameWindows.roundDown4k1(21)).isEqualTo(21);
        assertThat(FrameWindows.roundDown4k1(1)).isEqualTo(1);
        assertThat(FrameWindows.roundDown4k1(24)).isEqualTo(21);
        assertThat(FrameWindows.roundDown4k1(48)).isEqualTo(45);
        assertThat(FrameWindows.roundTargets(List.of(48, 24, 21, 45))).containsExactly(21, 45);
        assertThat(w(0, 45).latentFrames()).isEqualTo(12);
        assertThat(w(0, 21).latentFrames()).isEqualTo(6);
        assertThat(w(0, 1).latentFrames()).isEqualTo(1);
    }

    @Test
    void headOf40FrameClip() {
        var plan = FrameWindows.plan(40, settings(FrameExtraction.HEAD, List.of(1, 13, 25)));
        assertThat(plan.windows()).containsExactly(w(0, 1), w(0, 13), w(0, 25));
        assertThat(plan.decodedFrames()).isEqualTo(25); // head decodes only max(target_frames)
        assertThat(plan.tooShortFor()).isEmpty();
    }

    @Test
    void chunkOf40FrameClip() {
        var plan = FrameWindows.plan(40, settings(FrameExtraction.CHUNK, List.of(13, 25)));
        assertThat(plan.windows()).containsExactly(w(0, 13), w(13, 13), w(26, 13), w(0, 25));
    }

    @Test
    void slideOf40FrameClip() {
        var plan = FrameWindows.plan(40, settings(FrameExtraction.SLIDE, List.of(1, 13, 25), 10, 1, 129));
        assertThat(plan.windows()).containsExactly(
                w(0, 1), w(10, 1), w(20, 1), w(30, 1),
                w(0, 13), w(10, 13), w(20, 13),
                w(0, 25), w(10, 25));
    }

    @Test
    void uniformOf40FrameClip() {
        var plan = FrameWindows.plan(40, settings(FrameExtraction.UNIFORM, List.of(1, 13, 25), 1, 4, 129));
        assertThat(plan.windows()).containsExactly(
                w(0, 1), w(13, 1), w(26, 1), w(39, 1),
                w(0, 13), w(9, 13), w(18, 13), w(27, 13),
                w(0, 25), w(5, 25), w(10, 25), w(15, 25));
    }

    @Test
    void fullFollowsTheCodeNotTheDocs() {
        // docs claim 31 frames; the code rounds min(35, 31) down to 4k+1 = 29
        var plan = FrameWindows.plan(35, settings(FrameExtraction.FULL, List.of(1), 1, 1, 31));
        assertThat(plan.windows()).containsExactly(w(0, 29));
    }

    @Test
    void referenceDatasetsOn88FrameClip() {
        // dataset 3: uniform [45] x2 → starts 0 and 43
        assertThat(FrameWindows.plan(88, settings(FrameExtraction.UNIFORM, List.of(45), 1, 2, 129)).windows())
                .containsExactly(w(0, 45), w(43, 45));
        assertThat(FrameWindows.plan(88, settings(FrameExtraction.UNIFORM, List.of(45), 1, 3, 129)).windows())
                .containsExactly(w(0, 45), w(21, 45), w(43, 45));
        // dataset 2: head [1, 21] → only 21 frames decoded
        var head = FrameWindows.plan(88, settings(FrameExtraction.HEAD, List.of(1, 21)));
        assertThat(head.windows()).containsExactly(w(0, 1), w(0, 21));
        assertThat(head.decodedFrames()).isEqualTo(21);
        // other modes at T = 45
        assertThat(FrameWindows.plan(88, settings(FrameExtraction.CHUNK, List.of(45))).windows()).containsExactly(w(0, 45));
        assertThat(FrameWindows.plan(88, settings(FrameExtraction.SLIDE, List.of(45), 10, 1, 129)).windows())
                .containsExactly(w(0, 45), w(10, 45), w(20, 45), w(30, 45), w(40, 45));
        assertThat(FrameWindows.plan(88, FrameSettings.defaults().withExtraction(FrameExtraction.FULL)).windows())
                .containsExactly(w(0, 85));
    }

    @Test
    void uniformStartsMayRepeatOnShortSlack() {
        // N - T = 1 < frame_sample - 1 = 3: linspace(0, 1, 4) = [0, .33, .67, 1] truncates to 0, 0, 0, 1
        assertThat(FrameWindows.plan(46, settings(FrameExtraction.UNIFORM, List.of(45), 1, 4, 129)).windows())
                .containsExactly(w(0, 45), w(0, 45), w(0, 45), w(1, 45));
    }

    @Test
    void shortClipsAreReportedNotSilent() {
        var uniform = FrameWindows.plan(44, settings(FrameExtraction.UNIFORM, List.of(45), 1, 2, 129));
        assertThat(uniform.windows()).isEmpty();
        assertThat(uniform.tooShortFor()).containsExactly(45);

        var head = FrameWindows.plan(10, settings(FrameExtraction.HEAD, List.of(1, 21)));
        assertThat(head.windows()).containsExactly(w(0, 1));
        assertThat(head.tooShortFor()).containsExactly(21);

        var chunk = FrameWindows.plan(20, settings(FrameExtraction.CHUNK, List.of(13, 25)));
        assertThat(chunk.windows()).containsExactly(w(0, 13));
        assertThat(chunk.tooShortFor()).containsExactly(25);

        var full = FrameWindows.plan(0, FrameSettings.defaults().withExtraction(FrameExtraction.FULL));
        assertThat(full.windows()).isEmpty();
        assertThat(full.tooShortFor()).isNotEmpty();
    }

    @Test
    void sourceFpsDecimation() {
        // 32 fps → 16 fps keeps every other frame
        assertThat(FrameWindows.decimate(8, 32.0)).containsExactly(0, 2, 4, 6);
        // 16 fps keeps all; below 16 nothing is dropped
        assertThat(FrameWindows.decimate(5, 16.0)).containsExactly(0, 1, 2, 3, 4);
        assertThat(FrameWindows.decimate(5, 8.0)).containsExactly(0, 1, 2, 3, 4);
        // 24 fps: delta 2/3 → acc 0, .67, 1.33, 2, 2.67, 3.33 → idx 0,0,1,2,2,3 → keep frames 0,2,3,5
        assertThat(FrameWindows.decimate(6, 24.0)).containsExactly(0, 2, 3, 5);
        assertThat(FrameWindows.firstKept(4, 24.0)).containsExactly(0, 2, 3, 5);
        assertThat(FrameWindows.decimate(3, null)).containsExactly(0, 1, 2);
    }
}
