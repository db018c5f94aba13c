package dev.kaze.training;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.SafetensorsWriter;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Everything a run needs to continue exactly where it stopped, written as a directory:
 * {@code network.safetensors} (the LoRA in float32, musubi's keys) and {@code optimizer.safetensors}
 * (AdamW's float32 moments as {@code <param>.exp_avg} / {@code <param>.exp_avg_sq}, and these fields
 * in its metadata). Randomness needs no saved generator: each step's noise and timestep come from a
 * generator seeded with (seed, step), and each epoch's data order from (seed, epoch). Unlike musubi
 * (whose --resume restarts the step and epoch counters), the counters are restored.
 *
 * @param globalStep     optimizer steps done
 * @param epoch          the epoch the next step belongs to (0-based)
 * @param optimizerSteps AdamW's own step count (bias correction)
 * @param seed           the run's seed
 * @param dataOrder      sample indices in the order of the current epoch
 * @param recentLosses   the losses of the last steps, for the moving average
 */
public record TrainingState(int globalStep, int epoch, long optimizerSteps, long seed, int[] dataOrder, double[] recentLosses) {
    static final String NETWORK = "network.safetensors", OPTIMIZER = "optimizer.safetensors";

    public TrainingState {
        dataOrder = dataOrder.clone();
        recentLosses = recentLosses.clone();
    }

    @Override public int[] dataOrder() { return dataOrder.clone(); }

    @Override public double[] recentLosses() { return recentLosses.clone(); }

    /** Writes this state with the network and optimizer into dir (created if needed). */
    public void save(Path dir, LoraNetwork lora, LoraOptimizer optimizer) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the training state directory " + dir + ": " + e.getMessage(), e);
        }
        lora.save(dir.resolve(NETWORK), ScalarType.Float, Map.of("ss_steps", Integer.toString(globalStep)));
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String key : lora.parameters().keySet()) {
                Tensor[] m = optimizer.moments(key);
                tensors.put(key + ".exp_avg", m[0].detach().cpu().contiguous());
                tensors.put(key + ".exp_avg_sq", m[1].detach().cpu().contiguous());
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("kaze.global_step", Integer.toString(globalStep));
            meta.put("kaze.epoch", Integer.toString(epoch));
            meta.put("kaze.optimizer_steps", Long.toString(optimizerSteps));
            meta.put("kaze.seed", Long.toString(seed));
            meta.put("kaze.data_order", Arrays.stream(dataOrder).mapToObj(Integer::toString).collect(Collectors.joining(",")));
            meta.put("kaze.recent_losses", Arrays.stream(recentLosses).mapToObj(Double::toString).collect(Collectors.joining(",")));
            SafetensorsWriter.write(dir.resolve(OPTIMIZER), tensors, meta);
        }
    }

    /** The counters of a state directory written by {@link #save}. */
    public static TrainingState read(Path dir) {
        Path file = dir.resolve(OPTIMIZER);
        if (!Files.isRegularFile(file))
            throw new IllegalArgumentException("no training state in " + dir + " (" + OPTIMIZER + " is missing); pass a directory a run saved");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, String> m = f.metadata();
            try {
                return new TrainingState(Integer.parseInt(m.get("kaze.global_step")), Integer.parseInt(m.get("kaze.epoch")),
                        Long.parseLong(m.get("kaze.optimizer_steps")), Long.parseLong(m.get("kaze.seed")),
                        ints(m.get("kaze.data_order")), doubles(m.get("kaze.recent_losses")));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("training state " + file + " has missing or broken kaze.* metadata (" + e.getMessage()
                        + "); it was not written by this trainer", e);
            }
        }
    }

    /** The state's LoRA as trainable float32 tensors. */
    public static LoraNetwork readNetwork(Path dir, DitConfig cfg, Device device) {
        return LoraNetwork.read(dir.resolve(NETWORK), cfg, device);
    }

    /** Puts the saved moments and step count into an optimizer built over the state's network. */
    public void restoreOptimizer(Path dir, LoraOptimizer optimizer, Iterable<String> parameterNames) {
        Path file = dir.resolve(OPTIMIZER);
        try (PointerScope scope = new PointerScope(); SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, Tensor[]> moments = new LinkedHashMap<>();
            for (String key : parameterNames) {
                if (!f.entries().containsKey(key + ".exp_avg") || !f.entries().containsKey(key + ".exp_avg_sq"))
                    throw new IllegalArgumentException("training state " + file + " lacks the optimizer moments of " + key
                            + "; resume with the network_dim and model it was saved with");
                moments.put(key, new Tensor[]{f.tensor(key + ".exp_avg"), f.tensor(key + ".exp_avg_sq")});
            }
            optimizer.restore(optimizerSteps, moments);
        }
    }

    private static int[] ints(String s) {
        return s.isEmpty() ? new int[0] : Arrays.stream(s.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    private static double[] doubles(String s) {
        return s.isEmpty() ? new double[0] : Arrays.stream(s.split(",")).mapToDouble(Double::parseDouble).toArray();
    }
}
