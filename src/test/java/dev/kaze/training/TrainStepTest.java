package dev.kaze.training;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Checkpoint;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainStepTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);

    private static Path fixtures() {
        return Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity")).toAbsolutePath().normalize();
    }

    private static Tensor doubles(double... v) {
        org.bytedeco.pytorch.TensorVector parts = new org.bytedeco.pytorch.TensorVector();
        for (double d : v) parts.push_back(torch.tensor(d).reshape(1));
        return torch.cat(parts);
    }

    private static Tensor randn(long seed, long... shape) {
        torch.manual_seed(seed);
        return torch.randn(shape);
    }

    /** musubi init: up = 0, so the LoRA adds nothing; the first gradient reaches only up, and AdamW only decays down. */
    @Test void freshLoraAddsNothingAndOnlyUpLearnsAtFirst() {
        try (PointerScope scope = new PointerScope(); Checkpoint ckpt = Checkpoint.open(fixtures().resolve("dit.safetensors"))) {
            DitConfig cfg = DitConfig.read(fixtures().resolve("dit_config.json"));
            try (WanDit dit = WanDit.load(cfg, ckpt, CPU, DitOptions.of(torch.ScalarType.Float));
                 LoraNetwork lora = LoraNetwork.create(cfg, 4, 2.0, 7, CPU)) {
                assertEquals(10L * cfg.numLayers(), lora.modules().size());
                Tensor context = dit.embedContext(randn(1, 5, cfg.textDim()));
                Tensor x = randn(2, 1, cfg.inDim(), 1, 4, 6), t = torch.tensor(500.0f);
                Tensor base = dit.forward(x, t.reshape(1), context, null, null);
                Tensor adapted = lora.applyTo(dit).forward(x, t.reshape(1), context, null, null);
                assertTrue(torch.equal(base, adapted), "a LoRA with up = 0 must leave the output unchanged");

                Map<String, Tensor> before = new java.util.LinkedHashMap<>();
                lora.parameters().forEach((k, v) -> before.put(k, v.detach().clone()));
                double bound = 1 / Math.sqrt(cfg.dim());
                Tensor q = lora.parameters().get("lora_unet_blocks_0_self_attn_q.lora_down.weight");
                assertTrue(q.abs().max().item_double() <= bound && q.abs().max().item_double() > bound / 2, "down ~ U(-1/sqrt(in), 1/sqrt(in))");

                var step = new FlowMatchingStep(3.0, 1.0);
                var adamw = new AdamW(lora.parameters(), AdamW.Settings.defaults(1e-3));
                lora.zeroGrad();
                var r = step.lossAndGradients(dit, lora, randn(3, 1, cfg.inDim(), 1, 4, 6), randn(4, 1, cfg.inDim(), 1, 4, 6), torch.zeros(1), context);
                assertEquals(751.0, r.timesteps()[0], 1e-4, "z = 0 gives t = 0.75, model timestep 751");
                assertTrue(r.loss() > 0);
                for (var e : lora.parameters().entrySet()) {
                    Tensor g = e.getValue().grad();
                    if (e.getKey().endsWith("lora_down.weight"))
                        assertEquals(0.0, g.abs().max().item_double(), 0.0, e.getKey() + ": no gradient through a zero up");
                    else
                        assertTrue(g.abs().max().item_double() > 0, e.getKey() + ": up gets a gradient");
                }
                double norm = step.clip(lora);
                assertTrue(norm > 0);
                adamw.step();
                for (var e : lora.parameters().entrySet()) {
                    Tensor now = e.getValue().detach(), was = before.get(e.getKey());
                    if (e.getKey().endsWith("lora_down.weight"))
                        assertTrue(torch.equal(now, was.mul(new org.bytedeco.pytorch.Scalar(1 - 1e-3 * 0.01))), e.getKey() + ": only weight decay");
                    else
                        assertFalse(torch.equal(now, was), e.getKey() + ": moved");
                }
                adamw.close();
            }
        }
    }

    /** Two AdamW steps on one element, against the update rule written out by hand. */
    @Test void adamwMatchesTheUpdateRule() {
        try (PointerScope scope = new PointerScope()) {
            Tensor p = doubles(0.5, -2.0).requires_grad_(true);
            var s = new AdamW.Settings(0.1, 0.9, 0.999, 1e-8, 0.01);
            try (AdamW opt = new AdamW(Map.of("p", p), s)) {
                double[] x = {0.5, -2.0}, m = new double[2], v = new double[2];
                double[][] grads = {{0.3, -1e-3}, {-0.2, 4.0}};
                for (int k = 1; k <= 2; k++) {
                    Tensor loss = p.mul(doubles(grads[k - 1])).sum();
                    if (p.grad().defined()) p.grad().zero_();
                    loss.backward();
                    opt.step();
                    for (int i = 0; i < 2; i++) {
                        double g = grads[k - 1][i];
                        x[i] *= 1 - 0.1 * 0.01;
                        m[i] = 0.9 * m[i] + 0.1 * g;
                        v[i] = 0.999 * v[i] + 0.001 * g * g;
                        x[i] -= 0.1 / (1 - Math.pow(0.9, k)) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(0.999, k)) + 1e-8);
                    }
                    for (int i = 0; i < 2; i++) assertEquals(x[i], p.detach().get(i).item_double(), 1e-12, "step " + k + " element " + i);
                }
            }
        }
    }

    /** clip_grad_norm_: grads (3, 4) and (0) have norm 5; clipped to 1 they become (3, 4)·1/(5 + 1e-6). */
    @Test void clippingScalesByTheGlobalNorm() {
        try (PointerScope scope = new PointerScope()) {
            Tensor a = torch.zeros(2).requires_grad_(true), b = torch.zeros(1).requires_grad_(true);
            a.mul(torch.tensor(new float[]{3, 4})).sum().add(b.sum().mul(new org.bytedeco.pytorch.Scalar(0))).backward();
            double norm = AdamW.clipGradNorm(List.of(a, b), 1.0);
            assertEquals(5.0, norm, 1e-6);
            assertEquals(3 / (5 + 1e-6), a.grad().get(0).item_double(), 1e-6);
            assertEquals(4 / (5 + 1e-6), a.grad().get(1).item_double(), 1e-6);
            assertEquals(2.0, AdamW.clipGradNorm(List.of(torch.zeros(1).requires_grad_(true)), 1.0) + 2.0, 0.0, "no grads: norm 0");
        }
    }
}
