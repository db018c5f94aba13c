package dev.kaze.training;

import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Weights;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradient checkpointing gives the same loss and LoRA gradients as a plain backward pass (the memory it
 * saves is measured by dev.kaze.bench.CheckpointMemoryBench).
 */
class GradientCheckpointingTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);

    private static Tensor randn(long seed, long... shape) {
        torch.manual_seed(seed);
        return torch.randn(shape);
    }

    /** A LoRA whose up matrices are random too (a fresh one has up = 0, which hides the down gradients). */
    private static LoraNetwork trainedLora(DitConfig cfg) {
        LoraNetwork lora = LoraNetwork.create(cfg, 4, 2.0, 11, CPU);
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            long seed = 100;
            for (var e : lora.parameters().entrySet())
                if (e.getKey().endsWith("lora_up.weight")) e.getValue().copy_(randn(seed++, e.getValue().sizes().vec().get()).mul(new org.bytedeco.pytorch.Scalar(0.05)));
        }
        return lora;
    }

    private static Map<String, Tensor> gradients(WanDit dit, LoraNetwork lora, boolean checkpointing, Tensor context, long[] latent, double[] loss) {
        lora.zeroGrad();
        var r = new FlowMatchingStep(3.0, 1.0, checkpointing).lossAndGradients(dit, lora, randn(3, latent), randn(4, latent), torch.ones(latent[0]).mul(new org.bytedeco.pytorch.Scalar(0.3)), context);
        loss[0] = r.loss();
        Map<String, Tensor> grads = new LinkedHashMap<>();
        lora.parameters().forEach((k, v) -> grads.put(k, v.grad().clone()));
        return grads;
    }

    /**
     * Loss bit-equal; each gradient bit-equal or, where the recomputed block's backward sees its incoming
     * gradient in another memory layout (GEMM blocking differs), within float32 rounding: at most 1e-5 of
     * that gradient's largest magnitude. Returns whether every gradient was bit-equal.
     */
    private static boolean assertSameGradients(WanDit dit, DitConfig cfg, long[] latent) {
        try (LoraNetwork lora = trainedLora(cfg)) {
            Tensor context = dit.embedContext(randn(1, 5, cfg.textDim()));
            double[] plainLoss = new double[1], ckptLoss = new double[1];
            Map<String, Tensor> plain = gradients(dit, lora, false, context, latent, plainLoss);
            Map<String, Tensor> ckpt = gradients(dit, lora, true, context, latent, ckptLoss);
            assertEquals(plainLoss[0], ckptLoss[0], 0.0, "loss with and without checkpointing");
            assertEquals(plain.keySet(), ckpt.keySet());
            boolean exact = true;
            for (String k : plain.keySet()) {
                double scale = plain.get(k).abs().max().item_double();
                assertTrue(scale > 0, k + " has a gradient");
                double diff = plain.get(k).sub(ckpt.get(k)).abs().max().item_double();
                exact &= diff == 0;
                assertTrue(diff <= 1e-5 * scale, k + ": gradient with checkpointing differs by " + diff + " (largest |grad| " + scale + ")");
            }
            return exact;
        }
    }

    @Test void previewModelGradientsAreEqual() {
        try (PointerScope scope = new PointerScope(); WanModel model = WanModel.preview(null, CPU)) {
            assertSameGradients(model.dit(java.util.List.of()), model.ditConfig(), new long[]{1, 16, 3, 4, 6});
        }
    }

    /** A four-block DiT at preview width: the block-by-block backward chains gradients through every block. */
    @Test void fourBlockGradientsAreBitEqual() {
        DitConfig cfg = new DitConfig(new int[]{1, 2, 2}, PreviewModel.TEXT_LEN, 16, 32, 64, 32, 32, 16, 2, 4, true, true, 1e-6);
        try (PointerScope scope = new PointerScope();
             WanDit dit = WanDit.build(cfg, Weights.generated(PreviewModel.initializer(5), CPU), DitOptions.of(torch.ScalarType.Float))) {
            boolean exact = assertSameGradients(dit, cfg, new long[]{2, 16, 2, 4, 4});
            System.out.println("GradientCheckpointingTest: four-block gradients " + (exact ? "bit-equal" : "equal within 1e-5 relative"));
        }
    }

    /** The pieces (stem, blocks, head) compose to exactly forward(). */
    @Test void piecesComposeToForward() {
        try (PointerScope scope = new PointerScope(); WanModel model = WanModel.preview(null, CPU)) {
            WanDit dit = model.dit(java.util.List.of());
            Tensor context = dit.embedContext(randn(1, 5, model.ditConfig().textDim()));
            Tensor x = randn(2, 1, 16, 3, 4, 6), t = torch.full(new long[]{1}, new org.bytedeco.pytorch.Scalar(640.5));
            Tensor whole = dit.forward(x, t, context, null, null);
            WanDit.Stem stem = dit.stem(x, t);
            Tensor h = stem.x();
            for (int i = 0; i < dit.blockCount(); i++) h = dit.block(i, h, stem, context);
            assertTrue(torch.equal(whole, dit.head(h, stem)));
        }
    }

}
