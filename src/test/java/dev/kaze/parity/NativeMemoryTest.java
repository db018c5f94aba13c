package dev.kaze.parity;

import dev.kaze.pipeline.CancelledException;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Checkpoint;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Running the sample case repeatedly leaves native memory where it was after the first run:
 * no JavaCPP pointer stays alive (counted, not left to the GC) and the resident set does not grow.
 */
class NativeMemoryTest {
    // Pointer.totalCount() is process-wide: a leak makes it grow, while the GC may meanwhile release
    // pointers other tests in this JVM left unscoped, so the checks are "no more than", not "equal".
    static Path sampleCase() {
        return ParityTest.parityDir().resolve("cases/sample_unipc_cfg.safetensors");
    }

    private static void runOnce(ParityCase c) {
        try (PointerScope scope = new PointerScope();
             Checkpoint ckpt = Checkpoint.open(c.fixture("weights"));
             WanDit dit = DitForwardKind.load(c, ckpt, ckpt)) {
            SampleKind.sample(c, dit, (s, t, sec) -> {}, () -> false).sum().item_double();
        }
    }

    @Test
    void tenSampleRunsLeaveNativeMemoryFlat() {
        try (ParityCase c = ParityCase.open(sampleCase())) {
            runOnce(c);
            long pointersAfterFirst = Pointer.totalCount();
            long rssAfterFirst = Pointer.physicalBytes();
            List<Long> rss = new ArrayList<>();
            for (int i = 0; i < 9; i++) {
                runOnce(c);
                rss.add(Pointer.physicalBytes());
                assertThat(Pointer.totalCount()).as("live JavaCPP pointers after run " + (i + 2)).isLessThanOrEqualTo(pointersAfterFirst);
            }
            long growth = rss.getLast() - rssAfterFirst;
            System.out.printf("native memory: rss after run 1 %.1f MiB, after run 10 %.1f MiB (growth %.2f MiB); live pointers %d%n",
                    rssAfterFirst / 1048576.0, rss.getLast() / 1048576.0, growth / 1048576.0, pointersAfterFirst);
            // The exact check is the live pointer count above (every libtorch tensor handle is a JavaCPP
            // pointer). The resident set is a coarse guard against native memory held outside pointers; in
            // the full suite other tests' server threads share this JVM, so it gets a margin.
            assertThat(growth).as("resident set growth over 9 further runs, bytes").isLessThan(24L << 20);
        }
    }

    @Test
    void cancellationBetweenStepsStopsAndReleasesEverything() {
        try (ParityCase c = ParityCase.open(sampleCase())) {
            runOnce(c);
            long pointers = Pointer.totalCount();
            List<Integer> seen = new ArrayList<>();
            try (PointerScope scope = new PointerScope();
                 Checkpoint ckpt = Checkpoint.open(c.fixture("weights"));
                 WanDit dit = DitForwardKind.load(c, ckpt, ckpt)) {
                assertThatThrownBy(() -> SampleKind.sample(c, dit, (s, t, sec) -> seen.add(s), () -> seen.size() >= 2))
                        .isInstanceOf(CancelledException.class)
                        .hasMessageContaining("after 2 denoising step(s)");
            }
            assertThat(seen).containsExactly(1, 2);
            assertThat(Pointer.totalCount()).isLessThanOrEqualTo(pointers);
        }
    }
}
