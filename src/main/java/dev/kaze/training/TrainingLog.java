package dev.kaze.training;

import dev.kaze.json.Json;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The per-step log of a run, {@code {output_dir}/{output_name}.log.jsonl}: one JSON object per
 * optimizer step, {@code {"step", "epoch", "loss", "avg_loss", "lr", "timestep", "grad_norm", "seconds"}}
 * (musubi's loss/current, loss/average and lr/unet, plus the step's model timestep, the LoRA gradient
 * norm before clipping and the step's wall time). A resumed run appends to the same file after
 * dropping any line past the step it resumes from, so every step appears once. A validation is a line
 * {@code {"step", "epoch", "validation_loss"}}. The same scalars go to TensorBoard ({@link TensorBoardLog}) under
 * musubi's tags {@code loss/current}, {@code loss/average}, {@code lr/unet}, {@code loss/epoch} (at step epoch, at the
 * end of every epoch) and Kaze's {@code loss/validation}.
 */
final class TrainingLog {
    /** One logged step. */
    record Entry(int step, int epoch, double loss, double avgLoss, double lr, double timestep, double gradNorm, double seconds) {}

    private final Path file;
    private final List<Entry> entries = new ArrayList<>();
    private final List<Validation> validations = new ArrayList<>();
    private TensorBoardLog tensorBoard;

    /** One validation: the mean loss over the validation set after step. */
    record Validation(int step, int epoch, double loss) {}

    /** Opens (creating) the log, keeping the lines of steps 1..resumeStep and dropping later ones. */
    TrainingLog(Path file, int resumeStep) {
        this.file = file;
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            if (Files.exists(file)) {
                List<String> kept = new ArrayList<>();
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    Validation v = parseValidation(line);
                    if (v != null) {
                        if (v.step() <= resumeStep) { validations.add(v); kept.add(line); }
                        continue;
                    }
                    Entry e = parse(line);
                    if (e == null || e.step() > resumeStep || (!entries.isEmpty() && e.step() <= entries.getLast().step())) continue;
                    entries.add(e);
                    kept.add(line);
                }
                Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
                Files.write(tmp, kept, StandardCharsets.UTF_8);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the training log " + file + ": " + e.getMessage(), e);
        }
    }

    Path file() { return file; }

    /** The steps logged so far, in order. */
    List<Entry> entries() { return List.copyOf(entries); }

    /** The validations logged so far, in order. */
    List<Validation> validations() { return List.copyOf(validations); }

    /** The TensorBoard event file of this session (opened with the first scalar), beside the step log. */
    private TensorBoardLog tensorBoard() {
        if (tensorBoard == null) tensorBoard = new TensorBoardLog(file.toAbsolutePath().getParent());
        return tensorBoard;
    }

    /** Logs a validation loss. */
    void appendValidation(Validation v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", v.step());
        m.put("epoch", v.epoch());
        m.put("validation_loss", finite(v.loss()));
        line(m);
        validations.add(v);
        tensorBoard().scalar("loss/validation", v.step(), v.loss());
    }

    /** musubi's loss/epoch: the moving average at the end of an epoch, at step = epoch. */
    void appendEpoch(int epoch, double avgLoss) { tensorBoard().scalar("loss/epoch", epoch, avgLoss); }

    private void line(Map<String, Object> m) {
        try {
            Files.writeString(file, Json.MAPPER.writeValueAsString(m) + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot append to the training log " + file + ": " + ex.getMessage(), ex);
        }
    }

    void append(Entry e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", e.step());
        m.put("epoch", e.epoch());
        m.put("loss", finite(e.loss()));
        m.put("avg_loss", finite(e.avgLoss()));
        m.put("lr", finite(e.lr()));
        m.put("timestep", finite(e.timestep()));
        m.put("grad_norm", finite(e.gradNorm()));
        m.put("seconds", finite(e.seconds()));
        line(m);
        entries.add(e);
        TensorBoardLog tb = tensorBoard();
        tb.scalar("loss/current", e.step(), e.loss());
        tb.scalar("loss/average", e.step(), e.avgLoss());
        tb.scalar("lr/unet", e.step(), e.lr());
    }

    private static Validation parseValidation(String line) {
        try {
            JsonNode n = Json.MAPPER.readTree(line);
            if (!n.has("validation_loss")) return null;
            return new Validation(n.get("step").intValue(), n.get("epoch").intValue(), num(n, "validation_loss"));
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static Double finite(double v) { return Double.isFinite(v) ? v : null; }

    private static Entry parse(String line) {
        try {
            JsonNode n = Json.MAPPER.readTree(line);
            return new Entry(n.get("step").intValue(), n.get("epoch").intValue(), num(n, "loss"), num(n, "avg_loss"), num(n, "lr"),
                    num(n, "timestep"), num(n, "grad_norm"), num(n, "seconds"));
        } catch (RuntimeException e) {
            return null;   // a torn last line from a crash: dropped
        }
    }

    private static double num(JsonNode n, String key) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? Double.NaN : v.doubleValue();
    }
}
