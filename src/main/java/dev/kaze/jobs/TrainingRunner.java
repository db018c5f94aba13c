package dev.kaze.jobs;

import dev.kaze.json.Json;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.storage.DiskStore;
import dev.kaze.storage.StoredFile;
import dev.kaze.training.Dataset;
import dev.kaze.training.DatasetCheckException;
import dev.kaze.training.DatasetConfig;
import dev.kaze.training.DatasetConfigException;
import dev.kaze.training.DatasetMediaException;
import dev.kaze.training.DatasetPaths;
import dev.kaze.training.LoraTrainer;
import dev.kaze.training.TrainingArgs;
import dev.kaze.training.TrainingArgsException;
import dev.kaze.training.TrainingData;
import dev.kaze.training.TrainingItem;
import dev.kaze.training.TrainingListener;
import dev.kaze.training.TrainingSpec;
import dev.kaze.training.TrainingState;
import dev.kaze.training.VideoDatasetConfig;
import org.bytedeco.javacpp.PointerScope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs one training job on the device worker's thread: checks the dataset again, encodes it (VAE
 * latents and umT5 outputs), trains the LoRA with {@link LoraTrainer}, and reports every step,
 * checkpoint and sample as job events. A run stopped by a cancel saves its state and can be resumed
 * by a new job; a run cut off by a shutdown or crash continues from its newest saved state when the
 * job is claimed again. The finished LoRA is added to the LoRA catalog under the spec's name.
 *
 * <p>The trainer writes into the job's local scratch directory; after every save and at the end the files are copied
 * to the file store ({@link TrainingOutput}), where the API serves them. With a bucket the worker needs nothing on its
 * own disk beforehand: an uploaded dataset ({@link TrainingSpec#datasetKey()}) and the states a run continues from are
 * fetched from the store, and the scratch directory is removed once the run has ended (it stays when the run was cut off
 * by a shutdown, to continue from at the next start).
 */
public final class TrainingRunner implements JobRunner {
    private static final Logger log = LoggerFactory.getLogger(TrainingRunner.class);
    /** Progress (percent) reached once the dataset is encoded; training fills the rest. */
    private static final int PREPARED = 10;

    private final JobQueue queue;
    private final BooleanSupplier running;

    public TrainingRunner(JobQueue queue, BooleanSupplier running) {
        this.queue = queue;
        this.running = running;
    }

    /** The directory a training job writes its LoRAs, states, samples and logs to. */
    public static Path outputDir(Path jobDir) { return jobDir.resolve("output"); }

    /** Where a worker keeps its copy of a stored dataset for a job (in the job's scratch directory). */
    static Path datasetCopy(Path jobDir) { return jobDir.resolve("dataset"); }

    /** Where a worker keeps the states it fetched of the run a job resumes. */
    static Path resumedStates(Path jobDir) { return jobDir.resolve("resumed"); }

    /**
     * Runs the training to its end: COMPLETED, CANCELLED (state saved), INTERRUPTED by a shutdown (left in
     * progress), or FAILED with an {@code invalid-dataset} (422) or {@code training-failed} problem. The
     * outcome is complete when this returns.
     */
    @Override public CompletableFuture<JobOutcome> run(WanPipeline pipeline, Job job) {
        String id = job.id();
        TrainingOutput output = new TrainingOutput(queue.files(), id, outputDir(queue.jobDir(id)));
        JobOutcome outcome = JobOutcome.FAILED;
        try {
            outcome = train(pipeline, job, output);
            return CompletableFuture.completedFuture(outcome);
        } catch (JobNotFoundException e) {
            throw e;
        } catch (TrainingArgsException e) {
            log.warn("training {}: its options do not fit this model: {}", id, e.getMessage());
            output.publishQuietly();
            queue.store().fail(id, ProblemTypes.failure("invalid-training-args", "The training options do not fit this model", 422,
                    shown(job, e.getMessage())));
            return CompletableFuture.completedFuture(JobOutcome.FAILED);
        } catch (DatasetConfigException | DatasetMediaException | DatasetCheckException e) {
            log.warn("training {}: its dataset cannot be used: {}", id, e.getMessage());
            output.publishQuietly();
            queue.store().fail(id, ProblemTypes.failure("invalid-dataset", "The dataset cannot be used", 422, shown(job, e.getMessage())));
            return CompletableFuture.completedFuture(JobOutcome.FAILED);
        } catch (RuntimeException | Error e) {
            log.warn("training {} failed: {}", id, e.getMessage(), e);
            output.publishQuietly();
            queue.store().fail(id, ProblemTypes.failure("training-failed", "Training failed", 500, shown(job, e.getMessage())));
            return CompletableFuture.completedFuture(JobOutcome.FAILED);
        } finally {
            // with a bucket everything is in the store now; a run cut off by a shutdown keeps its files to continue here
            if (!(queue.files() instanceof DiskStore) && outcome != JobOutcome.INTERRUPTED) deleteQuietly(queue.jobDir(id));
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            JobQueue.deleteFiles(dir);
        } catch (RuntimeException e) {
            log.warn("could not delete {}: {}", dir, e.getMessage());
        }
    }

    /**
     * A message as a client may see it: the dataset's and the job's directories (server paths) taken out, files named
     * relative to the dataset or to the training's files; any other absolute path is cut to its file name.
     */
    private String shown(Job job, String message) {
        String text = String.valueOf(message);
        Path jobDir = queue.jobDir(job.id()).toAbsolutePath();
        try {
            TrainingSpec spec = TrainingSpec.fromJson(job.resolvedJson());
            if (spec.datasetKey() != null) text = spec.at(datasetCopy(jobDir)).clientText(text);   // this worker's copy of it
            text = spec.clientText(text);
        } catch (RuntimeException e) {
            // no readable spec: the paths below still go
        }
        Path out = outputDir(jobDir);
        for (Path p : List.of(out, jobDir, jobDir.getParent() == null ? jobDir : jobDir.getParent()))
            text = text.replace(p + "/", "").replace(p.toString(), ".");
        return SERVER_PATH.matcher(text).replaceAll(m -> Matcher.quoteReplacement(m.group(1) + m.group(2).substring(m.group(2).lastIndexOf('/') + 1)));
    }

    /** An absolute path left in a message (after the known directories are taken out), and what precedes it. */
    private static final Pattern SERVER_PATH = Pattern.compile("(^|[\\s'\"(=])(/[^\\s'\"),:]+)");

    private JobOutcome train(WanPipeline pipeline, Job job, TrainingOutput output) {
        String id = job.id();
        JobStore store = queue.store();
        Path out = output.dir();
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + out + ": " + e.getMessage(), e);
        }
        TrainingSpec spec = localDataset(TrainingSpec.fromJson(job.resolvedJson()), id);
        BooleanSupplier stop = () -> !running.getAsBoolean() || queue.isCancelRequested(id);
        TrainingArgs args = TrainingArgs.fromJson(spec.args());
        progress(store, id, "prepare", 1, 0, 0, null);
        try (PointerScope scope = new PointerScope(); TrainingUsage usage = TrainingUsage.start(queue, id, pipeline)) {
            DatasetConfig config = spec.config();
            TrainingData.Split samples;
            try {
                samples = prepare(pipeline, spec, config, store, id, stop);
                usage.mark("prepare");
            } catch (CancellationException e) {
                return stopped(store, id, output);
            }
            LoraTrainer trainer = new LoraTrainer(pipeline.model(), args, samples.training(), samples.validation(),
                    metadata(config, pipeline, samples.training().size()));
            // what the options do, and what they resolved to on this model and dataset (blocks_to_swap auto)
            List<String> notes = new ArrayList<>(TrainingArgs.notes(spec.args()));
            notes.addAll(trainer.notes());
            if (!notes.isEmpty())
                store.appendEvent(id, JobEventType.NOTES.wireName(), Json.MAPPER.createObjectNode().set("notes", Json.MAPPER.valueToTree(notes)).toString());
            SavedState state = resumeState(spec, id, output);
            TrainingListener listener = usage.timing(new Listener(store, id, spec, args.outputName(), output, stop));
            if (state != null) {
                store.appendEvent(id, JobEventType.RESUMED.wireName(), Json.MAPPER.createObjectNode()
                        .put("state", state.dir().getFileName().toString()).put("from_step", state.step()).toString());
                log.info("training {} resumes from {}", id, state.dir());
            }
            LoraTrainer.Result result = state != null ? trainer.resume(state.dir(), out, listener) : trainer.train(out, listener);
            if (result.stopped()) return stopped(store, id, output);
            output.publish();   // every file in the store before the job is seen complete
            register(store, id, spec.loraName(), result.lora());
            ObjectNode resolved = (ObjectNode) Json.MAPPER.readTree(job.resolvedJson());
            ObjectNode r = resolved.putObject("result");
            r.put("steps", result.steps());
            r.put("loss", result.loss());
            r.put("avg_loss", result.avgLoss());
            r.put("lora_file", out.relativize(result.lora()).toString());
            r.put("lora_name", spec.loraName());
            r.putObject("dit").put("storage", result.dit().storage()).put("blocks_swapped", result.dit().blocksSwapped())
                    .put("built_for_training", result.dit().separate());
            if (!notes.isEmpty()) resolved.set("run_notes", Json.MAPPER.valueToTree(notes));   // the notes event's, shown by GET
            store.updateProgress(id, 100, "train", result.steps(), trainer.totalSteps());
            usage.record();
            store.complete(id, resolved.toString());
            return JobOutcome.COMPLETED;
        }
    }

    /** The LoRA metadata only the job knows: musubi's {@code ss_datasets} and the model's names. */
    private static Map<String, String> metadata(DatasetConfig config, WanPipeline pipeline, int samples) {
        ArrayNode datasets = Json.MAPPER.createArrayNode();
        for (Dataset d : config.datasets()) {
            var p = d.params();
            ObjectNode n = datasets.addObject();
            n.putArray("resolution").add(p.resolution().width()).add(p.resolution().height());
            n.put("caption_extension", p.captionExtension());
            n.put("batch_size_per_device", p.batchSize());
            n.put("num_repeats", p.numRepeats());
            n.put("enable_bucket", p.enableBucket());
            n.put("bucket_no_upscale", p.bucketNoUpscale());
            String dirKey = d instanceof VideoDatasetConfig ? "video_directory" : "image_directory";
            n.put(dirKey, d.directory() == null ? null : d.directory().getFileName().toString());
            if (d instanceof VideoDatasetConfig v) {
                var f = v.frames();
                n.put("frame_extraction", f.extraction().tomlName());
                n.put("frame_stride", f.frameStride());
                n.put("frame_sample", f.frameSample());
                n.set("target_frames", Json.MAPPER.valueToTree(f.targetFrames()));
                n.put("max_frames", f.maxFrames());
                if (f.sourceFps() != null) n.put("source_fps", f.sourceFps());
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("ss_datasets", datasets.toString());
        meta.put("ss_num_train_items", Integer.toString(samples));
        meta.put("ss_sd_model_name", pipeline.model().id());
        meta.put("ss_vae_name", pipeline.model().id() + "-vae");
        return meta;
    }

    private JobOutcome stopped(JobStore store, String id, TrainingOutput output) {
        // the state a resume continues from, on whichever worker (not for a job deleted meanwhile: its files are gone)
        if (store.find(id).isPresent()) output.publishQuietly();
        if (!running.getAsBoolean()) return JobOutcome.INTERRUPTED;   // requeued at the next start, resumes from its state
        store.cancel(id);
        return JobOutcome.CANCELLED;
    }

    /**
     * The samples of the dataset, from musubi-format caches (reused while they match, encoded otherwise),
     * reporting progress per item. The dataset was checked when the job was submitted; it is checked
     * again here because its files may have changed while the job waited.
     */
    private TrainingData.Split prepare(WanPipeline pipeline, TrainingSpec spec, DatasetConfig config, JobStore store, String id,
                                       BooleanSupplier stop) {
        DatasetPaths.confine(config, spec.datasetRoot());
        TrainingData.Checked checked = TrainingData.check(config);
        if (!checked.warnings().isEmpty())
            store.appendEvent(id, JobEventType.DATASET_WARNINGS.wireName(), Json.MAPPER.createObjectNode()
                    .set("warnings", Json.MAPPER.valueToTree(checked.warnings().stream().map(spec::clientText).toList())).toString());
        int samples = checked.trainingSamples();
        int trainingSteps = samples > 0 ? TrainingArgs.fromJson(spec.args()).totalSteps(samples) : 0;
        return checked.split(TrainingData.prepare(pipeline, checked, new TrainingData.CacheListener() {
            @Override public void onItem(int done, int total, TrainingItem item, boolean latentReused, boolean textReused) {
                int pct = 1 + (PREPARED - 1) * done / total;
                // step/total_steps count training steps only (none done yet); the cache items have their own counters
                ObjectNode data = Json.MAPPER.createObjectNode();
                data.putObject("preparation").put("done", done).put("total", total)
                        .put("latent_cache", latentReused ? "reused" : "encoded").put("text_cache", textReused ? "reused" : "encoded");
                progress(store, id, "prepare", pct, 0, trainingSteps, data);
            }

            @Override public boolean stopRequested() { return stop.getAsBoolean(); }
        }));
    }

    /**
     * The spec over a dataset this machine can read: as it is when the dataset's directory is here (a directory under
     * the datasets root, or an upload kept on this disk); else over a copy of the stored dataset, fetched into the
     * job's scratch directory unless an earlier attempt of the job fetched it.
     */
    private TrainingSpec localDataset(TrainingSpec spec, String id) {
        if (spec.datasetKey() == null || Files.isDirectory(spec.datasetDir())) return spec;
        Path copy = datasetCopy(queue.jobDir(id)).toAbsolutePath();
        try {
            if (!Files.isDirectory(copy)) {
                String prefix = spec.datasetKey() + "/";
                List<StoredFile> stored = queue.files().list(prefix);
                if (stored.isEmpty())
                    throw new DatasetMediaException(Path.of(spec.datasetKey()), "the uploaded dataset is no longer in the file store; upload it again");
                Path part = copy.resolveSibling("dataset.part");
                JobQueue.deleteFiles(part);
                for (StoredFile f : stored) queue.files().download(f.key(), part.resolve(f.key().substring(prefix.length())));
                Files.move(part, copy, StandardCopyOption.ATOMIC_MOVE);
                log.info("training {}: fetched its dataset ({} files) from {}", id, stored.size(), queue.files().describe());
            }
            return spec.at(copy.toRealPath());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot fetch the dataset into " + copy + ": " + e.getMessage(), e);
        }
    }

    /**
     * The state to continue from: this job's newest saved state (it was cut off by a restart; fetched from the store
     * when it was saved on another machine), else the final state of the job it resumes (fetched from the store when it
     * is not on this disk). Null for a fresh run.
     */
    private SavedState resumeState(TrainingSpec spec, String id, TrainingOutput output) {
        Optional<SavedState> own = newestState(output.dir());
        if (own.isEmpty() && output.restore() > 0) own = newestState(output.dir());
        if (own.isPresent()) return own.get();
        if (spec.resumeFrom() == null) return null;
        Optional<SavedState> from = newestState(outputDir(queue.jobDir(spec.resumeFrom())));
        if (from.isEmpty())
            from = newestState(TrainingOutput.fetchStates(queue.files(), spec.resumeFrom(), resumedStates(queue.jobDir(id))));
        return from.orElseThrow(() -> new IllegalStateException("training " + spec.resumeFrom()
                + " saved no state to resume from; start a new training instead"));
    }

    /** A state directory a run saved, and the step it was saved after. */
    record SavedState(Path dir, int step) {}

    /** The saved state with the highest step under dir (states that cannot be read, e.g. cut off mid-write, are skipped). */
    static Optional<SavedState> newestState(Path dir) {
        if (!Files.isDirectory(dir)) return Optional.empty();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> Files.isDirectory(p) && p.getFileName().toString().endsWith("-state"))
                    .flatMap(p -> {
                        try {
                            return Stream.of(new SavedState(p, TrainingState.read(p).globalStep()));
                        } catch (RuntimeException e) {
                            log.warn("skipping unreadable training state {}: {}", p, e.getMessage());
                            return Stream.empty();
                        }
                    })
                    .max(Comparator.comparingInt(SavedState::step));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Adds the LoRA to the catalog; a name taken meanwhile is reported as an event, the file stays downloadable. */
    private void register(JobStore store, String id, String name, Path lora) {
        boolean added = queue.model().loras().add(lora, name, false);
        ObjectNode data = Json.MAPPER.createObjectNode().put("lora_name", name).put("registered", added);
        if (!added) data.put("reason", "a LoRA named '" + name + "' already exists; the file is kept in this training's files");
        store.appendEvent(id, JobEventType.LORA.wireName(), data.toString());
    }

    private static void progress(JobStore store, String id, String stage, int pct, int step, int total, ObjectNode extra) {
        store.updateProgress(id, pct, stage, step, total);
        ObjectNode data = extra != null ? extra : Json.MAPPER.createObjectNode();
        data.put("stage", stage).put("progress", pct).put("step", step).put("total_steps", total);
        store.appendEvent(id, JobEventType.PROGRESS.wireName(), data.toString());
    }

    /** Turns the trainer's callbacks into job progress and events. */
    private final class Listener implements TrainingListener {
        private final JobStore store;
        private final String id;
        private final TrainingSpec spec;
        private final String outputName;
        private final TrainingOutput output;
        private final Path out;
        private final BooleanSupplier stop;
        private final long started = System.nanoTime();
        private int firstStep = -1;

        Listener(JobStore store, String id, TrainingSpec spec, String outputName, TrainingOutput output, BooleanSupplier stop) {
            this.store = store;
            this.id = id;
            this.spec = spec;
            this.outputName = outputName;
            this.output = output;
            this.out = output.dir();
            this.stop = stop;
        }

        @Override public void onStep(int step, int maxSteps, int epoch, double loss, double avgLoss, double lr) {
            if (firstStep < 0) firstStep = step - 1;
            double elapsed = (System.nanoTime() - started) / 1e9;
            int done = step - firstStep;
            long eta = Math.round(elapsed / done * (maxSteps - step));
            int pct = PREPARED + (int) ((100L - PREPARED - 1) * step / maxSteps);
            ObjectNode data = Json.MAPPER.createObjectNode().put("epoch", epoch).put("loss", loss).put("avg_loss", avgLoss)
                    .put("learning_rate", lr).put("eta_seconds", eta);
            progress(store, id, "train", pct, step, maxSteps, data);
        }

        @Override public void onSaved(Path path, boolean state) {
            output.publishQuietly();   // the event's url answers once it is sent
            String rel = out.relativize(path).toString();
            ObjectNode data = Json.MAPPER.createObjectNode().put("kind", state ? "state" : "lora").put("file", rel);
            if (!state) {
                data.put("url", "/v1/trainings/" + id + "/files/" + rel);
                if (spec.registerCheckpoints() && !path.getFileName().toString().equals(outputName + ".safetensors")) {
                    String stem = path.getFileName().toString().replaceFirst("\\.safetensors$", "");
                    String name = spec.loraName() + stem.substring(stem.lastIndexOf('-'));
                    boolean added = queue.model().loras().add(path, name, true);
                    if (added) data.put("lora_name", name);
                }
            }
            store.appendEvent(id, JobEventType.CHECKPOINT.wireName(), data.toString());
        }

        @Override public void onSample(Path file, int step, int epoch) {
            output.publishQuietly();
            String rel = out.relativize(file).toString().replace('\\', '/');
            store.appendEvent(id, JobEventType.SAMPLE.wireName(), Json.MAPPER.createObjectNode().put("file", rel).put("step", step)
                    .put("epoch", epoch).put("url", "/v1/trainings/" + id + "/files/" + rel).toString());
        }

        @Override public void onValidation(int step, int epoch, double loss) {
            store.appendEvent(id, JobEventType.VALIDATION.wireName(), Json.MAPPER.createObjectNode().put("step", step).put("epoch", epoch)
                    .put("validation_loss", loss).toString());
        }

        @Override public boolean stopRequested() { return stop.getAsBoolean(); }
    }
}
