package dev.kaze.parity;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.TensorSource;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import tools.jackson.databind.JsonNode;

import java.nio.file.Path;

/** Kinds dit_forward and dit_nag_forward: one DiT evaluation, optionally with NAG. */
class DitForwardKind implements ParityKind {
    static DitConfig config(Path fixtureDir, Checkpoint ckpt) {
        String cfg = ckpt.metadata().get("config");
        return cfg != null ? DitConfig.fromJson(cfg) : DitConfig.read(fixtureDir.resolve("dit_config.json"));
    }

    static WanDit load(ParityCase c, TensorSource source, Checkpoint ckpt) {
        return WanDit.load(config(c.fixtureDir(), ckpt), source, new Device(torch.DeviceType.CPU), DitOptions.of(torch.ScalarType.Float));
    }

    static Nag nag(ParityCase c) {
        JsonNode n = c.param("nag");
        return n == null ? null : new Nag(n.get("scale").asDouble(), n.get("tau").asDouble(), n.get("alpha").asDouble());
    }

    @Override public void check(ParityCase c) {
        try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights")); WanDit dit = load(c, ckpt, ckpt)) {
            assertForward(c, dit);
        }
    }

    static void assertForward(ParityCase c, WanDit dit) {
        Tensor context = dit.embedContext(c.tensor("context"));
        Nag nag = nag(c);
        Tensor nagContext = nag == null ? null : dit.embedContext(c.tensor("negative_context"));
        Tensor out = dit.forward(c.tensor("x").unsqueeze(0), c.tensor("t"), context, nagContext, nag);
        c.assertClose(c.name(), out.squeeze(0), c.tensor("expected"));
    }
}
