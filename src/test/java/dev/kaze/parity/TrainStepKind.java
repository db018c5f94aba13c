package dev.kaze.parity;

import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.training.AdamW;
import dev.kaze.training.FlowMatchingStep;
import dev.kaze.training.LoraNetwork;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import tools.jackson.databind.JsonNode;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Kind train_step: one musubi LoRA step (shifted logit-normal timestep, flow-matching MSE,
 * backward, global-norm clipping, AdamW) from the case's z, x0, noise and context.
 */
class TrainStepKind implements ParityKind {
    private static Tensor doubles(double... v) {
        org.bytedeco.pytorch.TensorVector parts = new org.bytedeco.pytorch.TensorVector();
        for (double d : v) parts.push_back(torch.tensor(d).reshape(1));
        return torch.cat(parts);
    }

    @Override public void check(ParityCase c) {
        JsonNode opt = c.param("optimizer");
        assertEquals("AdamW", opt.get("type").asString(), c.name() + ": optimizer type");
        var settings = new AdamW.Settings(opt.get("lr").asDouble(), opt.get("betas").get(0).asDouble(),
                opt.get("betas").get(1).asDouble(), opt.get("eps").asDouble(), opt.get("weight_decay").asDouble());
        var step = new FlowMatchingStep(c.number("discrete_flow_shift", 3.0), c.number("max_grad_norm", 1.0));
        Device cpu = new Device(torch.DeviceType.CPU);
        try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights")); WanDit dit = DitForwardKind.load(c, ckpt, ckpt);
             LoraNetwork lora = LoraNetwork.read(c.fixture("lora"), dit.config(), cpu);
             AdamW adamw = new AdamW(lora.parameters(), settings)) {
            Tensor context = dit.embedContext(c.tensor("context"));
            lora.zeroGrad();
            var r = step.lossAndGradients(dit, lora, c.tensor("x0").unsqueeze(0), c.tensor("noise").unsqueeze(0), c.tensor("z"), context);
            // gradient checkpointing (recompute block by block) gives the same loss and gradients
            Map<String, Tensor> plain = new java.util.LinkedHashMap<>();
            lora.parameters().forEach((k, v) -> plain.put(k, v.grad().clone()));
            lora.zeroGrad();
            var rc = new FlowMatchingStep(step.shift(), step.maxGradNorm(), true)
                    .lossAndGradients(dit, lora, c.tensor("x0").unsqueeze(0), c.tensor("noise").unsqueeze(0), c.tensor("z"), context);
            assertEquals(r.loss(), rc.loss(), 0.0, c.name() + ": loss with gradient checkpointing");
            for (var e : lora.parameters().entrySet()) {
                Tensor a = plain.get(e.getKey()), b = e.getValue().grad();
                double diff = a.sub(b).abs().max().item_double(), scale = a.abs().max().item_double();
                org.junit.jupiter.api.Assertions.assertTrue(diff <= 1e-5 * scale, c.name() + ": " + e.getKey()
                        + " gradient with checkpointing differs by " + diff + " (largest |grad| " + scale + ")");
            }
            c.assertClose(c.name() + " timestep", doubles(r.timesteps()), c.tensor("expected_timestep"));
            c.assertClose(c.name() + " loss", torch.tensor(r.loss()).reshape(1), c.tensor("expected_loss"));
            Map<String, Tensor> params = lora.parameters();
            assertEquals(params.size(), c.tensors().entries().keySet().stream().filter(k -> k.startsWith("grad/")).count(),
                    c.name() + ": number of LoRA tensors with a gradient");
            for (var e : params.entrySet()) c.assertClose(c.name() + " grad/" + e.getKey(), e.getValue().grad(), c.tensor("grad/" + e.getKey()));
            double norm = step.clip(lora);
            c.assertClose(c.name() + " grad norm", torch.tensor(norm).reshape(1), c.tensor("expected_grad_norm"));
            adamw.step();
            for (var e : params.entrySet())
                c.assertClose(c.name() + " after_step/" + e.getKey(), e.getValue().detach(), c.tensor("after_step/" + e.getKey()));
        }
    }
}
