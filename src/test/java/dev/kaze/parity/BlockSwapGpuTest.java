package dev.kaze.parity;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.WeightStorage;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Block swap on CUDA (side-stream prefetch with event handoff): the dit_forward and dit_nag_forward
 * fixtures give bit-identical outputs with 0, 1 and all blocks swapped, in bf16 and float8 storage,
 * and the swapped weights sit in pinned host memory.
 */
@Tag("gpu")
class BlockSwapGpuTest {
    @Test
    void swappedForwardsOnCudaAreBitIdenticalToResidentOnes() {
        Device cuda = new Device("cuda");
        for (String name : List.of("dit_forward", "dit_nag_forward"))
            for (WeightStorage storage : List.of(WeightStorage.COMPUTE, WeightStorage.perTensor(WeightStorage.Format.FP8_E4M3)))
                try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(ParityTest.parityDir().resolve("cases/" + name + ".safetensors"));
                     Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
                    DitConfig cfg = DitForwardKind.config(c.fixtureDir(), ckpt);
                    Tensor base = null;
                    for (int swap : new int[]{0, 1, cfg.numLayers()})
                        try (WanDit dit = WanDit.load(cfg, ckpt, cuda, new DitOptions(torch.ScalarType.BFloat16, storage, swap))) {
                            if (swap > 0) {
                                Tensor host = dit.blockLinear("blocks." + (cfg.numLayers() - 1) + ".ffn.0.weight").storedTensors()[0];
                                assertThat(host.is_cuda()).isFalse();
                                assertThat(host.is_pinned()).as("pinned host weights").isTrue();
                            }
                            Tensor out = null;
                            for (int rep = 0; rep < 2; rep++) {   // twice: the second pass reuses the slots
                                Tensor context = dit.embedContext(c.tensor("context").to(cuda, torch.ScalarType.Float));
                                var nag = DitForwardKind.nag(c);
                                Tensor nagContext = nag == null ? null : dit.embedContext(c.tensor("negative_context").to(cuda, torch.ScalarType.Float));
                                out = dit.forward(c.tensor("x").unsqueeze(0).to(cuda, torch.ScalarType.Float), c.tensor("t"), context, nagContext, nag).cpu();
                            }
                            if (base == null) base = out;
                            else assertThat(torch.equal(out, base)).as(name + " " + storage + " swap " + swap).isTrue();
                        }
                }
    }
}
