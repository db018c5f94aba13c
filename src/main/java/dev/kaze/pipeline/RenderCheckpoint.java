package dev.kaze.pipeline;

import dev.kaze.pipeline.sampling.FlowUniPcScheduler;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.SafetensorsWriter;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A render paused after some denoising steps: the scheduler's state and the current latent,
 * serialised as a small safetensors file, so a render interrupted by a crash resumes from here
 * and ends exactly as an uninterrupted one would.
 */
public record RenderCheckpoint(FlowUniPcScheduler.State state, Tensor latent) {
    private static final String PREVIOUS = "previous_model_output", LAST = "last_model_output", SAMPLE = "last_sample", LATENT = "latent";

    public int stepsDone() { return state.stepIndex(); }

    public byte[] toBytes() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put(LATENT, latent);
        if (state.previousModelOutput() != null) tensors.put(PREVIOUS, state.previousModelOutput());
        if (state.lastModelOutput() != null) tensors.put(LAST, state.lastModelOutput());
        if (state.lastSample() != null) tensors.put(SAMPLE, state.lastSample());
        Map<String, String> meta = Map.of("steps", Integer.toString(state.steps()), "shift", Double.toString(state.shift()),
                "step_index", Integer.toString(state.stepIndex()), "lower_order_nums", Integer.toString(state.lowerOrderNums()),
                "this_order", Integer.toString(state.thisOrder()), "format", "kaze-render-checkpoint-1");
        try {
            Path tmp = Files.createTempFile("kaze-checkpoint", ".safetensors");
            try {
                SafetensorsWriter.write(tmp, tensors, meta);
                return Files.readAllBytes(tmp);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a render checkpoint: " + e.getMessage(), e);
        }
    }

    /** Reads a checkpoint; its tensors belong to the caller's pointer scope. */
    public static RenderCheckpoint fromBytes(byte[] bytes) {
        try {
            Path tmp = Files.createTempFile("kaze-checkpoint", ".safetensors");
            try {
                Files.write(tmp, bytes);
                try (SafetensorsFile f = SafetensorsFile.open(tmp)) {
                    Map<String, String> m = f.metadata();
                    if (!"kaze-render-checkpoint-1".equals(m.get("format")))
                        throw new IllegalArgumentException("not a Kaze render checkpoint");
                    FlowUniPcScheduler.State state = new FlowUniPcScheduler.State(Integer.parseInt(m.get("steps")),
                            Double.parseDouble(m.get("shift")), Integer.parseInt(m.get("step_index")),
                            Integer.parseInt(m.get("lower_order_nums")), Integer.parseInt(m.get("this_order")),
                            f.entries().containsKey(PREVIOUS) ? f.tensor(PREVIOUS) : null,
                            f.entries().containsKey(LAST) ? f.tensor(LAST) : null,
                            f.entries().containsKey(SAMPLE) ? f.tensor(SAMPLE) : null);
                    return new RenderCheckpoint(state, f.tensor(LATENT));
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read a render checkpoint: " + e.getMessage(), e);
        }
    }

    /** The bytes of a checkpoint of this scheduler and latent [C, F, H, W]. */
    public static byte[] save(FlowUniPcScheduler scheduler, Tensor latent) {
        try (FlowUniPcScheduler.State state = scheduler.snapshot()) {
            return new RenderCheckpoint(state, latent).toBytes();
        }
    }
}
