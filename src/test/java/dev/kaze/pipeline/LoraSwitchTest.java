package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.tensor.SafetensorsWriter;
import dev.kaze.training.LoraNetwork;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Per-request LoRA stacks merged into the resident DiT in place: switching back restores the
 * base weights bit-exactly, switching between stacks is reproducible, and native memory stays flat.
 */
class LoraSwitchTest {
    // Pointer.totalCount() is process-wide: a leak makes it grow, while the GC may meanwhile release
    // pointers other tests in this JVM left unscoped, so the checks are "no more than", not "equal".
    @TempDir static Path loraDir;
    static final Device CPU = new Device(torch.DeviceType.CPU);
    /** A: q of self-attention, o of cross-attention and ffn.0 in every block; B: q of self-attention and ffn.2 of block 0. */
    static final Set<String> A_TARGETS = new LinkedHashSet<>(), B_TARGETS = new LinkedHashSet<>();

    @BeforeAll static void writeLoras() {
        PreviewLoras.Targets t = PreviewLoras.write(loraDir);
        t.a().forEach(p -> A_TARGETS.add(p + ".weight"));
        t.b().forEach(p -> B_TARGETS.add(p + ".weight"));
    }




    private static void assertSameWeights(WanDit a, WanDit b, Set<String> keys) {
        for (String k : keys) {
            assertThat(a.parameter(k)).as(k).isNotNull();
            assertThat(torch.equal(a.parameter(k), b.parameter(k))).as("bit-exact " + k).isTrue();
        }
    }

    @Test
    void switchingBackToNoLoraRestoresTheBaseExactly() {
        try (WanModel model = WanModel.preview(loraDir, CPU); WanPipeline p = new WanPipeline(model);
             WanModel fresh = WanModel.preview(loraDir, CPU); WanPipeline freshP = new WanPipeline(fresh)) {
            WanDit resident = model.dit(List.of());
            byte[] withA = PreviewLoras.frames(p, PreviewLoras.stack("styleA", 1.0));
            assertThat(model.dit(PreviewLoras.stack("styleA", 1.0))).as("merged in place, not rebuilt").isSameAs(resident);
            byte[] none = PreviewLoras.frames(p, List.of());
            byte[] freshNone = PreviewLoras.frames(freshP, List.of());
            assertThat(withA).as("the LoRA changes the frames").isNotEqualTo(freshNone);
            assertThat(none).isEqualTo(freshNone);
            Set<String> keys = new LinkedHashSet<>(A_TARGETS);
            keys.addAll(List.of("blocks.0.self_attn.k.weight", "blocks.0.ffn.2.weight", "head.head.weight"));
            assertSameWeights(model.dit(List.of()), fresh.dit(List.of()), keys);
        }
    }

    @Test
    void aThenBThenAGivesTheFramesOfAAndMatchesAFreshLoad() {
        try (WanModel model = WanModel.preview(loraDir, CPU); WanPipeline p = new WanPipeline(model)) {
            byte[] a1 = PreviewLoras.frames(p, PreviewLoras.stack("styleA", 0.8));
            byte[] b = PreviewLoras.frames(p, PreviewLoras.stack("styleB", 1.0));
            byte[] a2 = PreviewLoras.frames(p, PreviewLoras.stack("styleA", 0.8));
            assertThat(b).isNotEqualTo(a1);
            assertThat(a2).isEqualTo(a1);
            // A+B in place equals a DiT rebuilt from the base with A+B merged (the old rebuild path)
            List<GenerateRequest.LoraRef> ab = PreviewLoras.stack("styleA", 0.5, "styleB", -1.5);
            WanDit inPlace = model.dit(ab);
            try (WanModel fresh = WanModel.preview(loraDir, CPU)) {
                fresh.dit(PreviewLoras.stack("styleB", 1.0));   // something resident first, then switch: union of targets
                Set<String> keys = new LinkedHashSet<>(A_TARGETS);
                keys.addAll(B_TARGETS);
                assertSameWeights(inPlace, fresh.dit(ab), keys);
            }
        }
    }

    @Test
    void twentyJobsWithChangingStacksKeepNativeMemoryFlat() {
        List<List<GenerateRequest.LoraRef>> cycle = List.of(List.of(), PreviewLoras.stack("styleA", 1.0), PreviewLoras.stack("styleB", 0.7),
                PreviewLoras.stack("styleA", 0.5, "styleB", 1.2), PreviewLoras.stack("styleA", 1.5), PreviewLoras.stack("styleB", -0.4, "styleA", 0.3), List.of(),
                PreviewLoras.stack("styleA", 1.0, "styleB", 1.0));
        try (WanModel model = WanModel.preview(loraDir, CPU); WanPipeline p = new WanPipeline(model)) {
            List<List<GenerateRequest.LoraRef>> jobs = new ArrayList<>();
            for (int i = 0; i < 20; i++) jobs.add(cycle.get(i % cycle.size()));
            jobs.set(19, jobs.get(3));   // job 20 runs job 4's stack
            long pointersAfter4 = -1, rssAfter4 = -1;
            for (int i = 0; i < 20; i++) {
                PreviewLoras.frames(p, jobs.get(i));
                if (i == 3) {
                    pointersAfter4 = Pointer.totalCount();
                    rssAfter4 = Pointer.physicalBytes();
                }
            }
            long pointersAfter20 = Pointer.totalCount(), rssAfter20 = Pointer.physicalBytes();
            long growth = rssAfter20 - rssAfter4;
            System.out.printf("LoRA switching: live pointers after job 4 %d, after job 20 %d; rss after job 4 %.1f MiB, after job 20 %.1f MiB (growth %.2f MiB)%n",
                    pointersAfter4, pointersAfter20, rssAfter4 / 1048576.0, rssAfter20 / 1048576.0, growth / 1048576.0);
            assertThat(pointersAfter20).as("live JavaCPP pointers after job 20 vs job 4").isLessThanOrEqualTo(pointersAfter4);
            // coarse guard (the exact check is the pointer count): other tests may share this JVM
            assertThat(growth).as("resident set growth from job 4 to job 20, bytes").isLessThan(32L << 20);
        }
    }
}
