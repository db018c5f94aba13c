package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.WeightStorage;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Block swap through the preview pipeline (its DiT has one block, so swap 1 is "all"; the parity
 * fixture's two-block DiT is covered by BlockSwapParityTest): frames are bit-identical with and
 * without swapping, in float32 and float8 storage, LoRA stacks merge into the host copy and switching
 * back restores the base, auto picks a swap count from the budget, and native memory stays flat.
 */
class BlockSwapTest {
    @TempDir static Path loraDir;
    static final Device CPU = new Device(torch.DeviceType.CPU);
    static final WeightStorage FP8 = WeightStorage.perTensor(WeightStorage.Format.FP8_E4M3);
    static final List<List<GenerateRequest.LoraRef>> STACKS = List.of(List.of(), PreviewLoras.stack("styleA", 1.0),
            PreviewLoras.stack("styleB", 0.7), PreviewLoras.stack("styleA", 0.5, "styleB", 1.2), List.of());

    @BeforeAll static void writeLoras() { PreviewLoras.write(loraDir); }

    static ModelOptions options(WeightStorage storage, int swap) {
        return ModelOptions.of(storage).withBlocksToSwap(ModelOptions.BlocksToSwap.of(swap));
    }

    /** The frames of every stack in STACKS, in order, rendered by one model (switching in place). */
    static List<byte[]> framesOfStacks(ModelOptions options) {
        try (WanModel model = WanModel.preview(loraDir, CPU, options); WanPipeline p = new WanPipeline(model)) {
            List<byte[]> out = new ArrayList<>();
            for (List<GenerateRequest.LoraRef> stack : STACKS) {
                out.add(PreviewLoras.frames(p, stack));
                assertThat(model.dit(stack).blocksSwapped()).isEqualTo(options.blocksToSwap().count());
            }
            return out;
        }
    }

    @Test
    void framesAreBitIdenticalWithAndWithoutSwapAcrossLoraSwitches() {
        int all = PreviewModel.DIT.numLayers();
        for (WeightStorage storage : List.of(WeightStorage.COMPUTE, FP8)) {
            List<byte[]> resident = framesOfStacks(options(storage, 0));
            assertThat(resident.get(1)).as("the LoRA changes the frames").isNotEqualTo(resident.get(0));
            assertThat(resident.get(4)).as("switching back restores the base").isEqualTo(resident.get(0));
            for (int swap : new int[]{1, all}) {
                List<byte[]> swapped = framesOfStacks(options(storage, swap));
                for (int i = 0; i < STACKS.size(); i++)
                    assertThat(swapped.get(i)).as(storage + " swap " + swap + " stack " + STACKS.get(i)).isEqualTo(resident.get(i));
            }
        }
    }

    @Test
    void aLoraMergesIntoTheHostCopyAndSwitchingBackRestoresItExactly() {
        for (WeightStorage storage : List.of(WeightStorage.COMPUTE, FP8)) {
            try (WanModel swapped = WanModel.preview(loraDir, CPU, options(storage, 1));
                 WanModel fresh = WanModel.preview(loraDir, CPU, options(storage, 0))) {
                String key = "blocks.0.self_attn.q.weight";
                WanDit dit = swapped.dit(List.of());
                org.bytedeco.pytorch.Tensor before = stored(dit, key).clone();
                assertThat(swapped.dit(PreviewLoras.stack("styleA", 1.0))).as("merged in place").isSameAs(dit);
                assertThat(torch.equal(stored(dit, key), before)).as("styleA changed the host weight").isFalse();
                swapped.dit(List.of());
                assertThat(torch.equal(stored(dit, key), before)).as("back to the base, bit for bit").isTrue();
                assertThat(torch.equal(stored(dit, key), stored(fresh.dit(List.of()), key))).isTrue();
            }
        }
    }

    private static org.bytedeco.pytorch.Tensor stored(WanDit dit, String key) {
        Linear l = dit.blockLinear(key);
        return l.storedTensors()[0];
    }

    @Test
    void autoChoosesTheSmallestSwapThatFitsTheBudget() {
        ModelOptions auto = new ModelOptions(FP8, ModelOptions.BlocksToSwap.AUTO, 24L << 30, false);
        int n = auto.blocksToSwap(dev.kaze.pipeline.dit.DitConfig.WAN_14B, dev.kaze.pipeline.vae.VaeConfig.wan21(), 640, 480, 81);
        MemoryPlan chosen = auto.plan(dev.kaze.pipeline.dit.DitConfig.WAN_14B, dev.kaze.pipeline.vae.VaeConfig.wan21(), 640, 480, 81, n);
        assertThat(chosen.storage()).isEqualTo(MemoryPlan.Storage.FP8);
        assertThat(chosen.peakBytes()).isLessThanOrEqualTo(24L << 30);
        if (n > 0) assertThat(chosen.withSwap(n - 1).peakBytes()).isGreaterThan(24L << 30);
        // the preview model fits any real budget without swapping (and its one block would save nothing)
        try (WanModel model = WanModel.preview(loraDir, CPU, ModelOptions.of(WeightStorage.COMPUTE).withBlocksToSwap(ModelOptions.BlocksToSwap.AUTO))) {
            assertThat(model.blocksToSwap(32, 32, 5)).isZero();
            assertThat(model.dit(List.of(), 32, 32, 5).blocksSwapped()).isZero();
        }
    }

    @Test
    void blocksToSwapParsesAndChecksItsRange() {
        assertThat(ModelOptions.BlocksToSwap.parse("auto")).isEqualTo(ModelOptions.BlocksToSwap.AUTO);
        assertThat(ModelOptions.BlocksToSwap.parse(" 12 ")).isEqualTo(ModelOptions.BlocksToSwap.of(12));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ModelOptions.BlocksToSwap.parse("-1"))
                .hasMessageContaining("kaze.dit.blocks-to-swap");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ModelOptions.BlocksToSwap.parse("some"))
                .hasMessageContaining("auto");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> WanModel.preview(loraDir, CPU, options(WeightStorage.COMPUTE, 2)))
                .hasMessageContaining("has 1 blocks");
    }

    @Test
    void twentyJobsWithSwapAndChangingStacksKeepNativeMemoryFlat() {
        List<List<GenerateRequest.LoraRef>> cycle = List.of(List.of(), PreviewLoras.stack("styleA", 1.0), PreviewLoras.stack("styleB", 0.7),
                PreviewLoras.stack("styleA", 0.5, "styleB", 1.2), PreviewLoras.stack("styleB", -0.4, "styleA", 0.3));
        try (WanModel model = WanModel.preview(loraDir, CPU, options(FP8, 1)); WanPipeline p = new WanPipeline(model)) {
            long pointersAfter5 = -1, rssAfter5 = -1;
            for (int i = 0; i < 20; i++) {
                PreviewLoras.frames(p, cycle.get(i % cycle.size()));
                if (i == 4) {
                    pointersAfter5 = Pointer.totalCount();
                    rssAfter5 = Pointer.physicalBytes();
                }
            }
            long pointersAfter20 = Pointer.totalCount(), growth = Pointer.physicalBytes() - rssAfter5;
            System.out.printf("block swap + LoRA switching: live pointers after job 5 %d, after job 20 %d; rss growth %.2f MiB%n",
                    pointersAfter5, pointersAfter20, growth / 1048576.0);
            assertThat(pointersAfter20).as("live JavaCPP pointers after job 20 vs job 5").isLessThanOrEqualTo(pointersAfter5);
            assertThat(growth).as("resident set growth from job 5 to job 20, bytes").isLessThan(32L << 20);
        }
    }
}
