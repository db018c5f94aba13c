package dev.kaze.bench;

import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.tensor.Weights;
import dev.kaze.training.AdamW;
import dev.kaze.training.AdamW8bit;
import dev.kaze.training.FlowMatchingStep;
import dev.kaze.training.LoraNetwork;
import dev.kaze.training.LoraOptimizer;
import dev.kaze.training.TrainingMemoryPlan;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code ./bench train}: seconds per LoRA training step (gradient checkpointing, clipping, optimizer step) on a
 * DiT with generated weights, for each weight storage and swap count, run in one process so the ratios
 * compare like with like (the swap counts of one storage are built side by side and stepped round-robin;
 * the median step is reported); memory per option: the block Linear bytes on the device and the
 * {@link TrainingMemoryPlan} peak, the RSS growth while building it on the CPU, the caching allocator's peak on CUDA. Options: --config cpu-bench|1.3b|14b, --layers N, --width N, --height N, --frames N,
 * --swap 0,2 (list), --storage compute,fp8 (list; fp8 = e4m3 with 64-column block scales), --rank N,
 * --optimizer adamw|adamw8bit, --steps N (timed, after one warm-up step), --threads N, --device cpu|cuda, --out FILE.
 */
public final class TrainBenchmark {
    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("config", "cpu-bench");
        o.put("layers", "");
        o.put("width", "256");
        o.put("height", "256");
        o.put("frames", "9");
        o.put("swap", "0,2");
        o.put("storage", "compute,fp8");
        o.put("rank", "32");
        o.put("optimizer", "adamw8bit");
        o.put("steps", "3");
        o.put("threads", "");
        o.put("device", "cpu");
        o.put("out", "target/bench/train-bench.json");
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.isBlank()) continue;
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + a + "'; options are --name value");
            String name = a.substring(2);
            if (!o.containsKey(name)) throw new IllegalArgumentException("unknown option --" + name + "; known: " + o.keySet());
            if (i + 1 >= args.length) throw new IllegalArgumentException("--" + name + " needs a value");
            o.put(name, args[++i]);
        }
        DitConfig cfg = ModelBenchmark.config(o.get("config"), o.get("layers"));
        if (!o.get("threads").isBlank()) torch.set_num_threads(Integer.parseInt(o.get("threads")));
        boolean cuda = o.get("device").equals("cuda");
        Device device = new Device(cuda ? "cuda" : "cpu");
        ScalarType dtype = cuda ? ScalarType.BFloat16 : ScalarType.Float;
        int width = Integer.parseInt(o.get("width")), height = Integer.parseInt(o.get("height")), frames = Integer.parseInt(o.get("frames"));
        int steps = Integer.parseInt(o.get("steps")), rank = Integer.parseInt(o.get("rank"));
        int[] swaps = Arrays.stream(o.get("swap").split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
        List<String> storages = Arrays.stream(o.get("storage").split(",")).map(String::strip).toList();
        long lf = 1 + (frames - 1) / 4, lh = height / 8, lw = width / 8;
        System.out.printf("train benchmark: %s, %s %s, %d threads, %dx%dx%d -> latent %dx%dx%d, rank %d, %s, %d timed steps per option%n",
                cfg, cuda ? "cuda" : "cpu", cuda ? "bf16" : "float32", torch.get_num_threads(), width, height, frames, lf, lh, lw,
                rank, o.get("optimizer"), steps);

        List<Map<String, Object>> rows = new ArrayList<>();
        for (String storageName : storages) {
            WeightStorage storage = switch (storageName) {
                case "compute" -> WeightStorage.COMPUTE;
                case "fp8" -> WeightStorage.blockwise(WeightStorage.Format.FP8_E4M3, 64);
                default -> throw new IllegalArgumentException("--storage takes compute and fp8, got " + storageName);
            };
            // every swap count of this storage built side by side and stepped round-robin, so a load that drifts
            // (a shared machine) slows them alike; the median step of each is reported
            int n = swaps.length;
            double[][] times = new double[n][steps];
            long[] rss = new long[n];
            try (PointerScope scope = new PointerScope()) {
                WanDit[] dits = new WanDit[n];
                LoraNetwork[] loras = new LoraNetwork[n];
                LoraOptimizer[] opts = new LoraOptimizer[n];
                try {
                    for (int k = 0; k < n; k++) {
                        long before = Pointer.physicalBytes();
                        dits[k] = WanDit.build(cfg, Weights.generated(PreviewModel.initializer(PreviewModel.SEED), device), new DitOptions(dtype, storage, swaps[k]));
                        loras[k] = LoraNetwork.create(cfg, rank, rank, 7, device);
                        opts[k] = LoraOptimizer.of(o.get("optimizer"), loras[k].parameters(), AdamW.Settings.defaults(1e-4));
                        rss[k] = Pointer.physicalBytes() - before;
                    }
                    FlowMatchingStep step = new FlowMatchingStep(3.0, 1.0, true);
                    torch.manual_seed(3);
                    Tensor ctxIn = torch.randn(32, cfg.textDim()).to(device, ScalarType.Float);
                    Tensor x0 = torch.randn(1, cfg.inDim(), lf, lh, lw).to(device, ScalarType.Float);
                    Tensor noise = torch.randn(1, cfg.inDim(), lf, lh, lw).to(device, ScalarType.Float);
                    Tensor z = torch.randn(1);
                    Tensor[] contexts = new Tensor[n];
                    for (int k = 0; k < n; k++) {
                        contexts[k] = dits[k].embedContext(ctxIn);
                        step.run(dits[k], loras[k], opts[k], x0, noise, z, contexts[k]);   // warm-up
                    }
                    for (int s = 0; s < steps; s++)
                        for (int k = 0; k < n; k++) {
                            if (cuda) torch.cuda_synchronize();
                            long t0 = System.nanoTime();
                            try (PointerScope stepScope = new PointerScope()) {
                                step.run(dits[k], loras[k], opts[k], x0, noise, z, contexts[k]);
                            }
                            if (cuda) torch.cuda_synchronize();
                            times[k][s] = (System.nanoTime() - t0) / 1e9;
                        }
                } finally {
                    for (int k = 0; k < n; k++) {
                        if (opts[k] != null) opts[k].close();
                        if (loras[k] != null) loras[k].close();
                        if (dits[k] != null) dits[k].close();
                    }
                }
            }
            double baseline = median(times[0]);
            for (int k = 0; k < n; k++) {
                double seconds = median(times[k]);
                TrainingMemoryPlan plan = new TrainingMemoryPlan(cfg, new TrainingMemoryPlan.Bucket(width, height, frames), !storageName.equals("compute"),
                        swaps[k], rank, o.get("optimizer").equalsIgnoreCase("adamw8bit") ? 2 + 8.0 / AdamW8bit.BLOCK_SIZE : TrainingMemoryPlan.ADAMW_STATE_BYTES, true);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("storage", storageName);
                row.put("swap", swaps[k]);
                row.put("seconds_per_step_median", seconds);
                row.put("seconds_per_step", Arrays.stream(times[k]).boxed().toList());
                row.put("ratio_to_swap_" + swaps[0], seconds / baseline);
                row.put("device_block_linear_bytes", plan.deviceBlocks() * plan.blockLinearBytes());
                row.put("planned_peak_bytes", plan.peakBytes());
                row.put("rss_growth_at_build_bytes", rss[k]);
                rows.add(row);
                System.out.printf("  %-8s swap %2d: %8.3f s/step median of %s (x%.3f of swap %d); block Linears on the device %.3f GiB, planned peak %.3f GiB, RSS growth at build %.3f GiB%n",
                        storageName, swaps[k], seconds, Arrays.toString(Arrays.stream(times[k]).map(t -> Math.round(t * 1000) / 1000.0).toArray()),
                        seconds / baseline, swaps[0], TrainingMemoryPlan.gib(plan.deviceBlocks() * plan.blockLinearBytes()),
                        TrainingMemoryPlan.gib(plan.peakBytes()), TrainingMemoryPlan.gib(rss[k]));
            }
            if (cuda) System.out.printf("  CUDA peak allocated %.3f GiB, reserved %.3f GiB (all options of %s)%n",
                    CudaMemory.peakAllocated() / (double) (1L << 30), CudaMemory.peakReserved() / (double) (1L << 30), storageName);
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("dit", cfg.toString());
        report.put("device", cuda ? "cuda" : "cpu");
        report.put("threads", torch.get_num_threads());
        report.put("video", width + "x" + height + "x" + frames);
        report.put("rank", rank);
        report.put("optimizer", o.get("optimizer"));
        report.put("results", rows);
        Path out = Path.of(o.get("out"));
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(report));
        System.out.println("figures: " + out);
    }

    static double median(double[] v) {
        double[] sorted = v.clone();
        Arrays.sort(sorted);
        int m = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }
}
