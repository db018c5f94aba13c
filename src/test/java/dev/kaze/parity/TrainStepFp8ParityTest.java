package dev.kaze.parity;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.training.FlowMatchingStep;
import dev.kaze.training.LoraNetwork;
import dev.kaze.training.TrainStepResult;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The train_step case over a float8 base (musubi's {@code --fp8_base --fp8_scaled}: block Linear weights
 * e4m3 with one scale per 64 input columns of a row, upcast per use), and with block swap.
 *
 * <p>The bound is derived from the format, as {@link Fp8ParityTest} derives the forward one: e4m3 keeps 3
 * mantissa bits, unit roundoff u = 2^-4, a rounded weight adds a relative RMS error u/√3 to its Linear's
 * output, and the errors of the D = 6 · num_layers rounded Linears an input passes through in sequence add in
 * quadrature, so the prediction's relative RMS error is within b = (u/√3)·√D. The loss and the gradients see
 * it through the residual r = pred − target: ‖Δr‖/‖r‖ ≤ e = b·‖pred‖/‖r‖ (the ratio measured on the float32
 * model, not on the float8 one). Then
 * <ul>
 *   <li>loss = mean r²: relative error ≤ 2e + e²;</li>
 *   <li>a LoRA gradient is the residual carried back through the Jacobian of the layers after the LoRA's
 *       Linear and multiplied with the activations before it: the residual's error e plus, for each rounded
 *       Linear, once in the activations or the Jacobian and once more in the residual it is already counted
 *       in, at most 2D rounded Linears: relative RMS error ≤ g = e + (u/√3)·√(2D), cosine ≥ 1 − g²/2.</li>
 * </ul>
 */
class TrainStepFp8ParityTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);
    static final int E4M3_MANTISSA = 3;
    /** musubi-tuner's fp8_scaled block size (reference § 3.7: scale over each 64-block of a row). */
    static final int MUSUBI_BLOCK = 64;
    static final WeightStorage FP8_SCALED = WeightStorage.blockwise(WeightStorage.Format.FP8_E4M3, MUSUBI_BLOCK);

    private static Path caseFile() { return ParityTest.parityDir().resolve("cases/train_step.safetensors"); }

    private record Step(TrainStepResult result, Map<String, Tensor> grads) {}

    /** One forward/backward of the case on a DiT kept as options say; gradients cloned. */
    private static Step run(ParityCase c, DitOptions options, boolean checkpointing) {
        try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
            DitConfig cfg = DitForwardKind.config(c.fixtureDir(), ckpt);
            try (WanDit dit = WanDit.load(cfg, ckpt, CPU, options);
                 LoraNetwork lora = LoraNetwork.read(c.fixture("lora"), cfg, CPU)) {
                assertEquals(options.blocksToSwap(), dit.blocksSwapped(), "blocks swapped");
                var step = new FlowMatchingStep(c.number("discrete_flow_shift", 3.0), c.number("max_grad_norm", 1.0), checkpointing);
                lora.zeroGrad();
                Tensor context = dit.embedContext(c.tensor("context"));
                TrainStepResult r = step.lossAndGradients(dit, lora, c.tensor("x0").unsqueeze(0), c.tensor("noise").unsqueeze(0), c.tensor("z"), context);
                Map<String, Tensor> grads = new LinkedHashMap<>();
                lora.parameters().forEach((k, v) -> {
                    Tensor g = v.grad().clone();
                    g.retainReference();
                    grads.put(k, g);
                });
                return new Step(r, grads);
            }
        }
    }

    /** ‖pred‖ / ‖pred − target‖ of the float32 model with the case's LoRA: how much the residual amplifies the prediction's error. */
    private static double residualAmplification(ParityCase c) {
        try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
            DitConfig cfg = DitForwardKind.config(c.fixtureDir(), ckpt);
            try (WanDit dit = WanDit.load(cfg, ckpt, CPU, DitOptions.of(torch.ScalarType.Float));
                 LoraNetwork lora = LoraNetwork.read(c.fixture("lora"), cfg, CPU)) {
                var step = new FlowMatchingStep(c.number("discrete_flow_shift", 3.0), c.number("max_grad_norm", 1.0));
                Tensor x0 = c.tensor("x0").unsqueeze(0).to(torch.ScalarType.Float), noise = c.tensor("noise").unsqueeze(0).to(torch.ScalarType.Float);
                Tensor t = step.sigmas(c.tensor("z")).view(-1, 1, 1, 1, 1);
                Tensor noisy = t.neg().add(new Scalar(1)).mul(x0).add(t.mul(noise));
                Tensor pred = lora.applyTo(dit).forward(noisy, step.sigmas(c.tensor("z")).mul(new Scalar(1000)).add(new Scalar(1)),
                        dit.embedContext(c.tensor("context")), null, null);
                Tensor r = pred.sub(noise.sub(x0));
                return pred.norm().item_double() / r.norm().item_double();
            }
        }
    }

    private static double relativeRms(Tensor a, Tensor e) {
        Tensor ad = a.to(torch.ScalarType.Double).flatten(), ed = e.to(torch.ScalarType.Double).flatten();
        return ad.sub(ed).norm().item_double() / ed.norm().item_double();
    }

    private static double cosine(Tensor a, Tensor e) {
        Tensor ad = a.to(torch.ScalarType.Double).flatten(), ed = e.to(torch.ScalarType.Double).flatten();
        return ad.dot(ed).item_double() / (ad.norm().item_double() * ed.norm().item_double());
    }

    @Test
    void float8BaseStaysWithinTheFormatBoundOfTheFloat32Step() {
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(caseFile())) {
            DitConfig cfg;
            try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
                cfg = DitForwardKind.config(c.fixtureDir(), ckpt);
            }
            assertEquals(0, cfg.dim() % MUSUBI_BLOCK, "the fixture's Linears take musubi's 64-column blocks");
            double u = Math.pow(2, -(E4M3_MANTISSA + 1)), perLinear = u / Math.sqrt(3);
            int d = Fp8ParityTest.ROUNDED_LINEARS_IN_SEQUENCE_PER_BLOCK * cfg.numLayers();
            double b = perLinear * Math.sqrt(d);
            double e = b * residualAmplification(c);
            double lossBound = 2 * e + e * e, gradBound = e + perLinear * Math.sqrt(2.0 * d);

            Step fp8 = run(c, new DitOptions(torch.ScalarType.Float, FP8_SCALED, 0), true);
            double expectedLoss = c.tensor("expected_loss").to(torch.ScalarType.Double).item_double();
            double lossError = Math.abs(fp8.result().loss() - expectedLoss) / Math.abs(expectedLoss);
            System.out.printf("FP8 train_step: loss %.6f vs float32 %.6f, relative error %.3e (bound %.3e)%n",
                    fp8.result().loss(), expectedLoss, lossError, lossBound);
            assertThat(lossError).as("loss relative error").isLessThanOrEqualTo(lossBound);
            assertThat(lossError).as("the float8 base really changed the loss").isGreaterThan(0);
            double worstRms = 0, worstCos = 1;
            for (var g : fp8.grads().entrySet()) {
                Tensor expected = c.tensor("grad/" + g.getKey());
                double rms = relativeRms(g.getValue(), expected), cos = cosine(g.getValue(), expected);
                worstRms = Math.max(worstRms, rms);
                worstCos = Math.min(worstCos, cos);
                assertThat(rms).as(g.getKey() + " gradient relative RMS error").isLessThanOrEqualTo(gradBound);
                assertThat(cos).as(g.getKey() + " gradient cosine similarity").isGreaterThanOrEqualTo(1 - gradBound * gradBound / 2);
            }
            System.out.printf("FP8 train_step gradients (%d tensors): worst relative RMS error %.3e (bound %.3e), worst cosine %.6f (bound %.6f)%n",
                    fp8.grads().size(), worstRms, gradBound, worstCos, 1 - gradBound * gradBound / 2);
        }
    }

    /** Block swap 0, 1 and all blocks, float8 and compute-dtype storage: loss and every LoRA gradient bit-identical. */
    @Test
    void swappingBlocksGivesBitIdenticalLossAndGradients() {
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(caseFile())) {
            int layers;
            try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
                layers = DitForwardKind.config(c.fixtureDir(), ckpt).numLayers();
            }
            for (WeightStorage storage : List.of(FP8_SCALED, WeightStorage.COMPUTE)) {
                DitOptions base = new DitOptions(torch.ScalarType.Float, storage, 0);
                Step resident = run(c, base, true);
                for (int swap : new int[]{1, layers}) {
                    Step swapped = run(c, base.withBlocksToSwap(swap), true);
                    String what = storage.format() + " with " + swap + " of " + layers + " blocks swapped";
                    assertEquals(resident.result().loss(), swapped.result().loss(), 0.0, what + ": loss");
                    assertEquals(resident.grads().keySet(), swapped.grads().keySet());
                    for (var g : resident.grads().entrySet())
                        assertTrue(torch.equal(g.getValue(), swapped.grads().get(g.getKey())), what + ": gradient of " + g.getKey());
                }
            }
        }
    }

    /** Swapped blocks train only with gradient checkpointing, and say so. */
    @Test
    void swapWithoutCheckpointingIsRefusedWithTheFix() {
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(caseFile())) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> run(c, new DitOptions(torch.ScalarType.Float, FP8_SCALED, 1), false));
            assertThat(e.getMessage()).contains("gradient_checkpointing");
        }
    }
}
