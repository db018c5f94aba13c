package dev.kaze.bench;

import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Weights;
import dev.kaze.training.FlowMatchingStep;
import dev.kaze.training.LoraNetwork;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Peak resident memory of one LoRA training step with and without gradient checkpointing, on a DiT
 * of preview layout with more blocks and tokens (Linux: the peak is reset through
 * /proc/self/clear_refs before each step). Run:
 * {@code ./mvnw -Pbench test-compile exec:exec -Dbench.main=dev.kaze.bench.CheckpointMemoryBench -Dbench.args="6 3 32 32 128 plain"}
 * (blocks, latent frames, latent height, latent width, dim, plain|checkpointed|both). The peak of a
 * process that ran the other mode first is hidden by memory the allocator kept, so compare modes in
 * separate runs.
 */
public final class CheckpointMemoryBench {
    public static void main(String[] a) throws Exception {
        int blocks = a.length > 0 ? Integer.parseInt(a[0]) : 8;
        long f = a.length > 1 ? Long.parseLong(a[1]) : 3, h = a.length > 2 ? Long.parseLong(a[2]) : 32, w = a.length > 3 ? Long.parseLong(a[3]) : 32;
        int dim = a.length > 4 ? Integer.parseInt(a[4]) : 256;
        String mode = a.length > 5 ? a[5] : "both";   // plain | checkpointed | both; one mode per JVM gives clean peaks
        Device cpu = new Device(torch.DeviceType.CPU);
        DitConfig cfg = new DitConfig(new int[]{1, 2, 2}, PreviewModel.TEXT_LEN, 16, dim, 4 * dim, 32, 32, 16, dim / 64, blocks, true, true, 1e-6);
        long[] latent = {1, 16, f, h, w};
        Path clear = Path.of("/proc/self/clear_refs");
        try (PointerScope scope = new PointerScope();
             WanDit dit = WanDit.build(cfg, Weights.generated(PreviewModel.initializer(5), cpu), DitOptions.of(torch.ScalarType.Float));
             LoraNetwork lora = LoraNetwork.create(cfg, 16, 16, 1, cpu)) {
            try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                torch.manual_seed(9);
                for (var e : lora.parameters().entrySet())
                    if (e.getKey().endsWith("lora_up.weight")) e.getValue().copy_(torch.randn(e.getValue().sizes().vec().get()).mul(new org.bytedeco.pytorch.Scalar(0.01)));
            }
            torch.manual_seed(1);
            Tensor context = dit.embedContext(torch.randn(5, cfg.textDim()));
            System.out.printf("CheckpointMemoryBench: %d blocks, dim %d, %d tokens%n", blocks, dim, f * h * w / 4);
            for (int round = 0; round < (mode.equals("both") ? 2 : 1); round++)
                for (int k = 0; k < 2; k++) {
                    boolean ckpt = k == 1;
                    if (ckpt ? mode.equals("plain") : mode.equals("checkpointed")) continue;
                    try (PointerScope step = new PointerScope()) {
                        torch.manual_seed(3);
                        Tensor x0 = torch.randn(latent), noise = torch.randn(latent);
                        System.gc();
                        Files.writeString(clear, "5");
                        long before = field("VmRSS"), t0 = System.nanoTime();
                        lora.zeroGrad();
                        var r = new FlowMatchingStep(3.0, 1.0, ckpt).lossAndGradients(dit, lora, x0, noise, torch.zeros(1), context);
                        long peak = field("VmHWM");
                        System.out.printf("round %d %-12s loss %.6f  peak RSS %+d MiB over the step's start  %.2f s%n", round,
                                ckpt ? "checkpointed" : "plain", r.loss(), (peak - before) >> 10, (System.nanoTime() - t0) / 1e9);
                    }
                }
        }
    }

    private static long field(String name) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith(name + ":")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        throw new IllegalStateException(name);
    }
}
