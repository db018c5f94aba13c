package dev.kaze.config;

import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStore;
import dev.kaze.jobs.ModelIdentity;
import dev.kaze.jobs.ModelInfo;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.ModelDirectory;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.Recipe;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.storage.FileStore;
import dev.kaze.tensor.TensorSource;
import dev.kaze.video.Mp4Encoder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The served model (its id, LoRA catalog and default LoRAs), the job queue over the store, the event streams, the encoder. */
@Configuration(proxyBeanMethods = false)
public class ModelConfig {
    private final KazeProperties props;

    public ModelConfig(KazeProperties props) { this.props = props; }

    /**
     * The LoRA catalog over the model's LoRA directory: the directory itself without a bucket; with one, the bucket's
     * {@code loras/} (copies in {@code <data dir>/cache/loras}) and the directory read only.
     */
    static LoraCatalog loraCatalog(KazeProperties props, FileStore files, Path loraDir) {
        if (props.storage().s3().settings() == null) return new LoraCatalog(loraDir);
        return LoraCatalog.shared(files.within("loras"), loraDir, props.dataDir().resolve("cache").resolve("loras"));
    }

    @Bean
    ModelInfo modelInfo(FileStore fileStore) {
        KazeProperties.Models m = props.models();
        Path loraDir = m == null ? null : m.loras();
        if (m == null || m.dir() == null) {
            if (loraDir == null) loraDir = props.dataDir().resolve("loras");
            return new ModelInfo(PreviewModel.ID, true, loraCatalog(props, fileStore, loraDir), List.of(), WanModel::previewDitShapes);
        }
        Path dir = m.dir();
        ModelDirectory.ModelFiles files;
        try {
            files = ModelDirectory.scan(dir);
        } catch (ModelDirectory.IncompleteException e) {
            // served once complete (a pull, or files copied in): the worker retries and readiness lists what is missing
            LoraCatalog catalog = loraCatalog(props, fileStore, loraDir != null ? loraDir : dir.resolve("loras"));
            return new ModelInfo(expectedId(dir), false, catalog, Recipe.defaultLoras(catalog),
                    () -> TensorSource.open(ModelDirectory.scan(dir).dit()));
        }
        LoraCatalog catalog = loraCatalog(props, fileStore, loraDir != null ? loraDir : files.loras() != null ? files.loras() : dir.resolve("loras"));
        String id;
        if (files.ditConfig() != null) id = Recipe.modelId(DitConfig.read(files.ditConfig()));
        else try (TensorSource dit = TensorSource.open(files.dit())) {   // headers only
            id = Recipe.modelId(DitConfig.detect(dit));
        }
        Path dit = files.dit();
        String identity = ModelIdentity.of(id, Arrays.asList(dit, files.textEncoder(), files.vae()));
        return new ModelInfo(id, false, catalog, Recipe.defaultLoras(catalog), () -> TensorSource.open(dit), identity);
    }

    /** The id of a model not complete yet: from its config when there, else from the bundle it is the directory of. */
    static String expectedId(Path dir) {
        Path config = dir.resolve("config.json");
        if (Files.isRegularFile(config)) {
            try {
                return Recipe.modelId(DitConfig.read(config));
            } catch (RuntimeException e) {
                // a partial or foreign config: fall back to the directory's name
            }
        }
        String name = dir.getFileName() == null ? "" : dir.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.startsWith("wan2.1-t2v-14b")) return "wan2.1-t2v-14b";
        if (name.startsWith("wan2.1-t2v-1.3b")) return "wan2.1-t2v-1.3b";
        return "wan2.1-t2v";
    }

    @Bean
    JobQueue jobQueue(JobStore store, ModelInfo model, FileStore files) {
        Map<String, Integer> perKey = new HashMap<>();
        for (KazeProperties.ApiKey k : props.auth().keys()) if (k.maxQueued() != null) perKey.put(k.id(), k.maxQueued());
        return new JobQueue(store, model, files, props.dataDir(), props.limits().maxQueued(), props.limits().perKeyQueued(), perKey);
    }

    @Bean(destroyMethod = "close")
    JobEvents jobEvents(JobStore store) { return new JobEvents(store); }

    @Bean
    Mp4Encoder mp4Encoder() { return new Mp4Encoder(); }
}
