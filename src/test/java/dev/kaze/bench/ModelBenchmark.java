package dev.kaze.bench;

import dev.kaze.pipeline.DenoisingLoop;
import dev.kaze.pipeline.MemoryPlan;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.StepListener;
import dev.kaze.pipeline.dit.BlockProbe;
import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitFlops;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.pipeline.preview.GifPreview;
import dev.kaze.pipeline.preview.PreviewFrames;
import dev.kaze.pipeline.text.T5Config;
import dev.kaze.pipeline.text.T5Encoder;
import dev.kaze.pipeline.text.T5EncoderLoader;
import dev.kaze.pipeline.vae.LatentScale;
import dev.kaze.pipeline.vae.VaeConfig;
import dev.kaze.pipeline.vae.WanVae;
import dev.kaze.tensor.Weights;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static dev.kaze.tensor.Ops.s;

/**
 * The model benchmark (not a test; {@code ./bench model --config cpu-bench}): the pipeline's stages with
 * generated weights (no model files) — umT5 text encoding, the DiT text embedding, the denoising loop
 * (UniPC with NAG), VAE decode and encode — timed per stage, with FLOPs counted analytically
 * ({@link DitFlops}), the device's float GEMM throughput measured in the same run, MFU = achieved / GEMM,
 * and peak host memory. Configs: {@code cpu-bench} (1.3B widths, 2 layers, 33 frames at 256x256, 8 steps),
 * {@code 1.3b}, {@code 14b} (full presets; {@code --layers N} scales the block count down to fit a host).
 * float32 on the CPU, bfloat16 with {@code --device cuda}. JSON to target/bench/model-bench.json.
 */
public final class ModelBenchmark {
    static final DitConfig CPU_BENCH = new DitConfig(new int[]{1, 2, 2}, 512, 16, 1536, 8960, 256, 4096, 16, 12, 2, true, true, 1e-6);

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("config", "cpu-bench");
        o.put("layers", "");
        o.put("frames", "33");
        o.put("width", "256");
        o.put("height", "256");
        o.put("steps", "8");
        o.put("t5-layers", "2");      // umT5-XXL widths, vocab cut to 4096 (the embedding is a lookup); 0 skips
        o.put("vae", "true");
        o.put("encode", "true");
        o.put("probe-reps", "3");
        o.put("gemm-n", "2048");
        o.put("gemm-reps", "5");
        o.put("threads", "");
        o.put("device", "cpu");
        o.put("out", "target/bench/model-bench.json");
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.isBlank()) continue;
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + a + "'; options are --name value");
            String name = a.substring(2), value;
            int eq = name.indexOf('=');
            if (eq >= 0) { value = name.substring(eq + 1); name = name.substring(0, eq); }
            else if (i + 1 < args.length) value = args[++i];
            else throw new IllegalArgumentException("--" + name + " needs a value");
            if (!o.containsKey(name)) throw new IllegalArgumentException("unknown option --" + name + "; known: " + o.keySet());
            o.put(name, value);
        }
        DitConfig base = config(o.get("config"), ""), cfg = config(o.get("config"), o.get("layers"));
        int layers = cfg.numLayers();
        if (!o.get("threads").isBlank()) torch.set_num_threads(Integer.parseInt(o.get("threads")));
        boolean cuda = o.get("device").equals("cuda");
        Device device = new Device(cuda ? "cuda" : "cpu");
        ScalarType dtype = cuda ? ScalarType.BFloat16 : ScalarType.Float;
        Runnable sync = cuda ? torch::cuda_synchronize : () -> {};
        int frames = Integer.parseInt(o.get("frames")), width = Integer.parseInt(o.get("width")), height = Integer.parseInt(o.get("height"));
        int steps = Integer.parseInt(o.get("steps"));
        VaeConfig vaeCfg = VaeConfig.wan21();
        long lf = 1 + (frames - 1) / vaeCfg.temporalStride(), lh = height / vaeCfg.spatialStride(), lw = width / vaeCfg.spatialStride();
        DitFlops flops = DitFlops.of(cfg, lf, lh, lw, true);
        int threads = torch.get_num_threads();

        MemorySampler mem = new MemorySampler();
        mem.start();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("config", o.get("config"));
        report.put("dit", cfg.toString());
        report.put("layers_scaled", layers != base.numLayers());
        report.put("device", cuda ? "cuda" : "cpu");
        report.put("dtype", cuda ? "bfloat16" : "float32");
        report.put("threads", threads);
        report.put("cpus", Runtime.getRuntime().availableProcessors());
        report.put("video", width + "x" + height + "x" + frames);
        report.put("latent", List.of(cfg.inDim(), lf, lh, lw));
        report.put("tokens", flops.tokens());
        report.put("steps", steps);

        System.out.printf("model benchmark: %s%s, %s %s, %d threads, %dx%dx%d -> latent %dx%dx%d, L=%d tokens, %d UniPC steps with NAG%n",
                cfg, layers != base.numLayers() ? " (layers scaled down from " + base.numLayers() + ")" : "",
                cuda ? "cuda" : "cpu", cuda ? "bf16" : "float32", threads, width, height, frames, lf, lh, lw, flops.tokens(), steps);

        double gemm = gemmFlops(Integer.parseInt(o.get("gemm-n")), Integer.parseInt(o.get("gemm-reps")), device, dtype, sync);
        System.out.printf("GEMM %s %sx%<sx%<s: %.1f GFLOP/s (best of %s)%n", cuda ? "bf16" : "float32", o.get("gemm-n"), gemm / 1e9, o.get("gemm-reps"));
        report.put("gemm_flops_per_s", gemm);

        List<Map<String, Object>> stages = new ArrayList<>();
        Weights.Initializer init = PreviewModel.initializer(PreviewModel.SEED);
        try (PointerScope scope = new PointerScope()) {
            long t0 = System.nanoTime();
            WanDit dit = WanDit.build(cfg, Weights.generated(init, device), DitOptions.of(dtype));
            System.out.printf("built the DiT from generated weights in %.1f s%n", (System.nanoTime() - t0) / 1e9);

            // text: umT5 (umT5-XXL widths, vocab cut) on a 512-token padded prompt, positive and NAG negative
            Tensor[] encoded = new Tensor[2];
            int t5Layers = Integer.parseInt(o.get("t5-layers"));
            long lc = cfg.textLen();
            if (t5Layers > 0) {
                T5Config u = T5Config.UMT5_XXL;
                T5Config t5cfg = new T5Config(4096, u.dim(), u.dimAttn(), u.dimFfn(), u.numHeads(), t5Layers, u.numBuckets(), u.sharedPos(), u.eps());
                try (T5Encoder t5 = T5EncoderLoader.load(Weights.generated(init, device), t5cfg, dtype)) {
                    Tensor ids = torch.randint(1, 4096, new long[]{1, lc}, new TensorOptions(ScalarType.Long));
                    Tensor mask = torch.ones(new long[]{1, lc}, new TensorOptions(ScalarType.Long));
                    double sec = time(sync, () -> {
                        encoded[0] = t5.encodeTrimmed(ids, mask);
                        encoded[1] = t5.encodeTrimmed(ids.flip(1), mask);
                    });
                    double perLayer = 4 * 2.0 * lc * u.dim() * u.dimAttn() + 4.0 * lc * lc * u.dimAttn() + 3 * 2.0 * lc * u.dim() * u.dimFfn();
                    stages.add(stage("text: umT5 x2 prompts (" + t5Layers + " layers, XXL widths)", sec, 2 * t5Layers * perLayer, gemm));
                }
            } else {
                encoded[0] = torch.randn(new long[]{lc, cfg.textDim()});
                encoded[1] = torch.randn(new long[]{lc, cfg.textDim()});
            }
            Tensor[] ctx = new Tensor[2];
            double sec = time(sync, () -> {
                ctx[0] = dit.embedContext(encoded[0].to(device, ScalarType.Float));
                ctx[1] = dit.embedContext(encoded[1].to(device, ScalarType.Float));
            });
            stages.add(stage("text: DiT text embedding x2", sec, 2 * flops.textEmbedding(), gemm));

            // denoising loop
            Nag nag = new Nag(11.0, 2.5, 0.25);
            Tensor noise = torch.randn(new long[]{cfg.inDim(), lf, lh, lw}, new TensorOptions(ScalarType.Float)).to(device, ScalarType.Float);
            List<Double> stepSeconds = new ArrayList<>();
            List<Double> previewSeconds = new ArrayList<>(), gifSeconds = new ArrayList<>();
            Tensor[] latent = new Tensor[1];
            // a live preview after every step (the server previews at most once a second): its device-thread cost is part of the step's time
            StepListener listener = new StepListener() {
                @Override public void onStep(int step, int total, double seconds) {
                    sync.run();
                    stepSeconds.add(seconds);
                    System.out.printf("  step %d/%d: %.2f s, %.1f GFLOP/s%n", step, total, seconds, flops.forward() / seconds / 1e9);
                }
                @Override public boolean wantsPreview(int step, int total) { return true; }
                @Override public void onPreview(int step, int total, PreviewFrames preview) {
                    previewSeconds.add(preview.seconds());
                    long t = System.nanoTime();
                    GifPreview.encode(preview, 2, 250);          // in the server this runs on its own thread
                    gifSeconds.add((System.nanoTime() - t) / 1e9);
                }
            };
            double loop = time(sync, () -> latent[0] = new DenoisingLoop(dit).sample(noise, new DenoisingLoop.Conditioning(ctx[0], ctx[1]), nag,
                    new DenoisingLoop.Schedule(steps, 5.0), listener, () -> false));
            for (int i = 0; i < stepSeconds.size(); i++) stages.add(stage("denoise step " + (i + 1), stepSeconds.get(i), flops.forward(), gemm));
            Map<String, Object> loopStage = stage("denoising loop (" + steps + " steps)", loop, steps * flops.forward(), gemm);
            stages.add(loopStage);
            report.put("loop_mfu", loopStage.get("mfu"));
            double preview = mean(previewSeconds), step = mean(stepSeconds) - preview, gif = mean(gifSeconds);
            Map<String, Object> previews = new LinkedHashMap<>();
            previews.put("preview_seconds_per_step", preview);
            previews.put("denoise_seconds_per_step_without_preview", step);
            previews.put("preview_to_step_ratio", preview / step);
            previews.put("gif_encode_seconds_off_worker", gif);
            previews.put("preview_pixels", List.of(lf, 2 * lh, 2 * lw));
            report.put("previews", previews);
            stages.add(stage("live preview (latent->RGB on the device thread, per step)", preview, 0, gemm));
            System.out.printf("live preview: %.4f s per step on the device thread = %.3f %% of a %.2f s denoising step; GIF encode %.4f s (off the worker)%n",
                    preview, 100 * preview / step, step, gif);

            // one block and its parts, timed alone at the same shape
            int[] p = cfg.patchSize();
            Map<String, Double> probe = BlockProbe.profile(dit, lf / p[0], lh / p[1], lw / p[2], ctx[0], ctx[1], nag,
                    Integer.parseInt(o.get("probe-reps")), sync);
            stages.add(stage("one block", probe.get("block"), flops.block(), gemm));
            stages.add(stage("  self-attention (q,k,v,o, norms, RoPE, attention)", probe.get("self_attn"), flops.selfProjections() + flops.selfAttention(), gemm));
            stages.add(stage("    attention alone (QK^T, softmax, AV)", probe.get("self_attn.sdpa"), flops.selfAttention(), gemm));
            stages.add(stage("    RoPE of q or k (complex64, in place)", probe.get("self_attn.rope"), 0, gemm));
            stages.add(stage("  cross-attention with NAG", probe.get("cross_attn"), flops.crossProjections() + flops.crossAttention(), gemm));
            stages.add(stage("  FFN", probe.get("ffn"), flops.ffn(), gemm));

            if (Boolean.parseBoolean(o.get("vae"))) {
                try (WanVae vae = WanVae.build(Weights.generated(init, device), vaeCfg, LatentScale.WAN21, ScalarType.Float)) {
                    Tensor[] video = new Tensor[1];
                    double dec = time(sync, () -> video[0] = vae.decode(latent[0].unsqueeze(0)));
                    stages.add(stage("VAE decode (Wan2.1 widths)", dec, 0, gemm));
                    if (Boolean.parseBoolean(o.get("encode"))) {
                        double enc = time(sync, () -> vae.encode(video[0]));
                        stages.add(stage("VAE encode (Wan2.1 widths)", enc, 0, gemm));
                    }
                }
            }
            dit.close();
        }
        // the same GEMM again: a rate far from the first one means the cores were shared and the MFU figures are off
        double gemmAfter = gemmFlops(Integer.parseInt(o.get("gemm-n")), Integer.parseInt(o.get("gemm-reps")), device, dtype, sync);
        report.put("gemm_flops_per_s_after", gemmAfter);
        mem.stopSampling();
        report.put("stages", stages);
        report.put("flops_per_forward", flops.terms());
        report.put("peak_host_bytes_sampled", mem.peak.get());
        report.put("peak_host_rss_bytes", vmHwm());

        System.out.printf("%n%-48s %9s %10s %10s %6s%n", "stage", "seconds", "GFLOP", "GFLOP/s", "MFU");
        for (Map<String, Object> st : stages) {
            double f = (double) st.get("flops");
            System.out.printf("%-48s %9.3f %10s %10s %6s%n", st.get("stage"), (double) st.get("seconds"),
                    f > 0 ? String.format("%.1f", f / 1e9) : "-", f > 0 ? String.format("%.1f", (double) st.get("flops_per_s") / 1e9) : "-",
                    f > 0 ? String.format("%.0f%%", 100 * (double) st.get("mfu")) : "-");
        }
        System.out.printf("GEMM throughput (same run): %.1f GFLOP/s, again at the end %.1f GFLOP/s%s; peak host memory: %.2f GB RSS (JavaCPP physicalBytes sampled %.2f GB)%n",
                gemm / 1e9, gemmAfter / 1e9, Math.abs(gemmAfter / gemm - 1) > 0.1 ? " (they differ by more than 10 %: the cores were shared, compare MFU with care)" : "",
                vmHwm() / 1e9, mem.peak.get() / 1e9);
        memoryVersusPlan(report, cfg, vaeCfg, width, height, frames, cuda);
        Path out = Path.of(o.get("out"));
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(report));
        System.out.println("figures written to " + out);
    }

    /**
     * The measured peak next to {@link MemoryPlan}'s planned peak for this render (block weights in
     * the compute dtype, no swap, untiled decode): the CUDA caching allocator's peak on CUDA, the
     * process's peak RSS on the CPU (which also holds the JVM, so it is only a rough comparison).
     * The plan leaves umT5 out (it is not resident while denoising); this benchmark's cut-down umT5 is in the measured figure.
     */
    static void memoryVersusPlan(Map<String, Object> report, DitConfig cfg, VaeConfig vaeCfg, int width, int height, int frames, boolean cuda) {
        MemoryPlan plan;
        try {
            plan = new MemoryPlan(cfg, vaeCfg, width, height, frames, MemoryPlan.Storage.BF16, 0);
        } catch (IllegalArgumentException e) {
            System.out.println("no memory plan for this size: " + e.getMessage());
            return;
        }
        report.put("planned_peak_bytes", plan.peakBytes());
        if (cuda) {
            long allocated = CudaMemory.peakAllocated(), reserved = CudaMemory.peakReserved();
            report.put("peak_device_allocated_bytes", allocated);
            report.put("peak_device_reserved_bytes", reserved);
            System.out.printf("device memory: measured peak %.2f GB allocated (%.2f GB reserved) vs planned peak %.2f GB%n",
                    allocated / 1e9, reserved / 1e9, plan.peakBytes() / 1e9);
        } else {
            System.out.printf("memory: planned device peak %.2f GB (bf16 on a GPU) vs host peak RSS %.2f GB here (float32, JVM included)%n",
                    plan.peakBytes() / 1e9, vmHwm() / 1e9);
        }
    }

    static double mean(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    static Map<String, Object> stage(String name, double seconds, double flops, double gemm) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("stage", name);
        m.put("seconds", seconds);
        m.put("flops", flops);
        m.put("flops_per_s", flops / seconds);
        m.put("mfu", flops / seconds / gemm);
        return m;
    }

    static double time(Runnable sync, Runnable r) {
        sync.run();
        long t0 = System.nanoTime();
        r.run();
        sync.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Best of reps of an n x n x n matmul in the compute dtype, after one warm-up: 2n³ / seconds. */
    static double gemmFlops(int n, int reps, Device device, ScalarType dtype, Runnable sync) {
        try (PointerScope scope = new PointerScope()) {
            Tensor a = torch.randn(new long[]{n, n}).to(device, dtype);
            Tensor b = torch.randn(new long[]{n, n}).to(device, dtype);
            torch.matmul(a, b);
            double best = Double.MAX_VALUE;
            for (int i = 0; i < reps; i++) {
                try (PointerScope rep = new PointerScope()) {
                    best = Math.min(best, time(sync, () -> torch.matmul(a, b)));
                }
            }
            return 2.0 * n * n * n / best;
        }
    }

    /** Peak resident set of this process (VmHWM), or -1 off Linux. */
    static long vmHwm() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }

    /** Samples JavaCPP's physicalBytes (this process's resident memory) every 20 ms. */
    static final class MemorySampler extends Thread {
        final AtomicLong peak = new AtomicLong();
        volatile boolean running = true;

        MemorySampler() { setDaemon(true); setName("memory-sampler"); }

        @Override public void run() {
            while (running) {
                peak.accumulateAndGet(Pointer.physicalBytes(), Math::max);
                try { Thread.sleep(20); } catch (InterruptedException e) { return; }
            }
        }

        void stopSampling() { running = false; }
    }

    /** The DiT of --config (cpu-bench, 1.3b or 14b), cut to --layers blocks when given (blank: all of them). */
    static DitConfig config(String name, String layers) {
        DitConfig base = switch (name) {
            case "cpu-bench" -> CPU_BENCH;
            case "1.3b" -> DitConfig.WAN_1_3B;
            case "14b" -> DitConfig.WAN_14B;
            default -> throw new IllegalArgumentException("--config must be cpu-bench, 1.3b or 14b");
        };
        int n = layers.isBlank() ? base.numLayers() : Integer.parseInt(layers);
        return new DitConfig(base.patchSize(), base.textLen(), base.inDim(), base.dim(), base.ffnDim(), base.freqDim(),
                base.textDim(), base.outDim(), base.numHeads(), n, base.qkNorm(), base.crossAttnNorm(), base.eps());
    }
}
