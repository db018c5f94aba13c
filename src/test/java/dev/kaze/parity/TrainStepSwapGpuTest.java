package dev.kaze.parity;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.training.AdamW;
import dev.kaze.training.FlowMatchingStep;
import dev.kaze.training.LoraNetwork;
import dev.kaze.training.LoraOptimizer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Training with block swap on CUDA (side-stream copies for the forward pass and, in reverse order, for the
 * checkpointed backward pass, ordered by events): the train_step case in bf16 mixed precision over a bf16 and
 * an fp8_scaled base gives bit-identical losses, LoRA gradients and, after three full steps with AdamW8bit, LoRA
 * parameters with 0, 1, 2 and all blocks swapped.
 */
@Tag("gpu")
class TrainStepSwapGpuTest {
    @Test
    void swappedTrainingStepsOnCudaAreBitIdenticalToResidentOnes() {
        Device cuda = new Device("cuda");
        for (WeightStorage storage : List.of(WeightStorage.COMPUTE, WeightStorage.blockwise(WeightStorage.Format.FP8_E4M3, 64)))
            try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(ParityTest.parityDir().resolve("cases/train_step.safetensors"));
                 Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
                DitConfig cfg = DitForwardKind.config(c.fixtureDir(), ckpt);
                double[] baseLoss = null;
                Map<String, Tensor> baseParams = null, baseGrads = null;
                for (int swap : new int[]{0, 1, Math.min(2, cfg.numLayers()), cfg.numLayers()})
                    try (WanDit dit = WanDit.load(cfg, ckpt, cuda, new DitOptions(torch.ScalarType.BFloat16, storage, swap));
                         LoraNetwork lora = LoraNetwork.read(c.fixture("lora"), cfg, cuda);
                         LoraOptimizer opt = LoraOptimizer.of("adamw8bit", lora.parameters(), AdamW.Settings.defaults(1e-3))) {
                        var step = new FlowMatchingStep(3.0, 1.0, true);
                        Tensor context = dit.embedContext(c.tensor("context").to(cuda, torch.ScalarType.Float));
                        Tensor x0 = c.tensor("x0").unsqueeze(0).to(cuda, torch.ScalarType.Float);
                        Tensor noise = c.tensor("noise").unsqueeze(0).to(cuda, torch.ScalarType.Float);
                        double[] losses = new double[3];
                        Map<String, Tensor> grads = new LinkedHashMap<>();
                        for (int s = 0; s < 3; s++) {
                            losses[s] = step.run(dit, lora, opt, x0, noise, c.tensor("z"), context).loss();
                            if (s == 0) lora.parameters().forEach((k, v) -> grads.put(k, v.grad().cpu().clone()));
                        }
                        Map<String, Tensor> params = new LinkedHashMap<>();
                        lora.parameters().forEach((k, v) -> params.put(k, v.detach().cpu().clone()));
                        if (baseLoss == null) {
                            baseLoss = losses;
                            baseParams = params;
                            baseGrads = grads;
                            continue;
                        }
                        assertThat(losses).as(storage + " swap " + swap + " losses").containsExactly(baseLoss);
                        for (var e : baseGrads.entrySet())
                            assertThat(torch.equal(grads.get(e.getKey()), e.getValue())).as(storage + " swap " + swap + " gradient " + e.getKey()).isTrue();
                        for (var e : baseParams.entrySet())
                            assertThat(torch.equal(params.get(e.getKey()), e.getValue())).as(storage + " swap " + swap + " parameter " + e.getKey()).isTrue();
                    }
            }
    }
}
