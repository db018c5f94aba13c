package dev.kaze.config;

import dev.kaze.pipeline.ModelOptions;
import dev.kaze.storage.S3Settings;
import dev.kaze.tensor.WeightStorage;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kaze's settings ({@code kaze.*} properties or {@code KAZE_*} environment variables).
 *
 * @param models  where the model files are; no directory means the built-in preview model
 * @param device  {@code cpu} or {@code cuda} (cuda:N for a given GPU)
 * @param dataDir job outputs (a directory per job) and the embedded job store
 * @param auth    API keys and anonymous access
 * @param limits  queue and per-key limits
 * @param cors    origins allowed to call the API from a browser
 * @param dit     how the DiT keeps its block Linear weights and how many blocks it swaps to host memory
 * @param deviceMemoryBudget the device memory a render may plan for ({@code 24GiB}, {@code 20GB}; GiB/MiB binary,
 *                GB/MB decimal); blocks-to-swap auto chooses the fewest swapped blocks that fit it
 * @param textEncoder where umT5 runs
 * @param role    what this process does: {@code all} (the API and the device worker, the default), {@code api}
 *                (HTTP, WebSocket, SSE and downloads; no model loaded, jobs queued for workers elsewhere) or
 *                {@code worker} (claims jobs, renders and trains; serves only health and metrics). When not set,
 *                kaze.worker.enabled=false means {@code api}; a role that is set wins
 * @param storage where videos, previews, LoRAs, training runs and uploaded datasets live: the data directory, or an
 *                S3-compatible bucket shared by every replica when kaze.storage.s3.bucket is set
 */
@ConfigurationProperties("kaze")
public record KazeProperties(Models models, @DefaultValue("cpu") String device, @DefaultValue("./data/kaze") Path dataDir,
                             @DefaultValue Auth auth, @DefaultValue Limits limits, @DefaultValue Cors cors,
                             @DefaultValue Worker worker, @DefaultValue Webhooks webhooks, @DefaultValue Dit dit,
                             @DefaultValue Training training,
                             @DefaultValue("24GiB") String deviceMemoryBudget, @DefaultValue TextEncoder textEncoder,
                             @DefaultValue Previews previews, @DefaultValue PromptEnhancer promptEnhancer,
                             String role, @DefaultValue Storage storage) {

    public KazeProperties {
        memoryBudgetBytes(deviceMemoryBudget);   // fail at start-up on a bad value
        Role.parse(role);
    }

    /** This process's role: kaze.role when set, else {@code api} where kaze.worker.enabled=false, else {@code all}. */
    public Role processRole() {
        Role r = Role.parse(role);
        if (r != null) return r;
        return worker.enabled() ? Role.ALL : Role.API;
    }

    /** What one process does: serve the API, run the device worker, or both. */
    public enum Role {
        ALL, API, WORKER;

        /** Serves {@code /v1}, the event streams and the studio page. */
        public boolean servesApi() { return this != WORKER; }

        /** Loads the model and claims jobs. */
        public boolean runsWorker() { return this != API; }

        static Role parse(String value) {
            if (value == null || value.isBlank()) return null;
            return switch (value.strip().toLowerCase(Locale.ROOT)) {
                case "all" -> ALL;
                case "api" -> API;
                case "worker" -> WORKER;
                default -> throw new IllegalArgumentException("kaze.role is '" + value + "'; use all, api or worker");
            };
        }
    }

    /** How the loaded model uses memory: DiT storage and block swap, the budget, umT5's placement. */
    public ModelOptions modelOptions() {
        return new ModelOptions(dit.weightStorage(), dit.swap(), memoryBudgetBytes(deviceMemoryBudget),
                textEncoder.onHost());
    }

    /** "24GiB" -> 24·2³⁰, "20GB" -> 20·10⁹, "1000000" -> bytes. */
    static long memoryBudgetBytes(String value) {
        String v = value == null ? "" : value.strip().replace(" ", "");
        Matcher m = Pattern.compile("(?i)(\\d+(?:\\.\\d+)?)(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?").matcher(v);
        if (!m.matches())
            throw new IllegalArgumentException("kaze.device-memory-budget is '" + value + "'; use a size such as 24GiB or 20GB");
        double n = Double.parseDouble(m.group(1));
        double unit = switch (m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT)) {
            case "KB" -> 1e3; case "MB" -> 1e6; case "GB" -> 1e9; case "TB" -> 1e12;
            case "KIB" -> 0x1p10; case "MIB" -> 0x1p20; case "GIB" -> 0x1p30; case "TIB" -> 0x1p40;
            default -> 1;
        };
        long bytes = (long) (n * unit);
        if (bytes <= 0) throw new IllegalArgumentException("kaze.device-memory-budget is '" + value + "'; it must be more than 0");
        return bytes;
    }

    /**
     * @param placement {@code device}: umT5's weights stay in host memory and are copied to the device for each
     *                  encoding (text cache misses only), then released; {@code cpu}: umT5 runs on the host
     */
    public record TextEncoder(@DefaultValue("device") String placement) {
        public TextEncoder {
            onHost(placement);
        }

        public boolean onHost() { return onHost(placement); }

        private static boolean onHost(String placement) {
            return switch (placement == null ? "device" : placement.strip().toLowerCase(Locale.ROOT)) {
                case "device" -> false;
                case "cpu" -> true;
                default -> throw new IllegalArgumentException("kaze.text-encoder.placement is '" + placement + "'; use cpu or device");
            };
        }
    }

    /**
     * LoRA training ({@code POST /v1/trainings}).
     *
     * @param datasetsRoot      datasets named by directory must lie under this one (default {@code <data dir>/datasets})
     * @param uploadMax         the largest dataset archive an upload may be (streamed to disk)
     * @param archiveMaxEntries the most entries an archive may hold
     * @param archiveMaxBytes   the most bytes an archive may unpack to (counted while unpacking, not as declared)
     * @param archiveMaxRatio   the largest unpacked/packed ratio of one entry (stops zip bombs early)
     */
    public record Training(Path datasetsRoot, @DefaultValue("8GB") DataSize uploadMax,
                           @DefaultValue("100000") int archiveMaxEntries,
                           @DefaultValue("64GB") DataSize archiveMaxBytes,
                           @DefaultValue("200") int archiveMaxRatio) {}

    /** Where datasets named by directory live. */
    public Path datasetsRoot() {
        return training.datasetsRoot() != null ? training.datasetsRoot() : dataDir.resolve("datasets");
    }

    /**
     * @param storage      {@code compute} (the compute dtype, as read), {@code fp8-e4m3} or {@code fp8-e5m2}
     *                     (float8 values with float32 scales, quantised on load; half the memory of bf16)
     * @param fp8BlockSize with float8: one scale per this many input columns of each output row; 0: one per tensor
     * @param fp8Matmul    with float8: {@code upcast} (the weight upcast to the compute dtype per use) or
     *                     {@code scaled-mm} (aten::_scaled_mm with the input quantised to e4m3, for e4m3
     *                     weights with one scale per tensor on a CPU or a CUDA device of compute
     *                     capability ≥ 8.9; other layers and devices upcast)
     * @param blocksToSwap how many DiT blocks keep their Linear weights in host memory, streamed to the device
     *                     block by block (0: none), or {@code auto}: the fewest that fit kaze.device-memory-budget
     */
    public record Dit(@DefaultValue("compute") String storage, @DefaultValue("0") int fp8BlockSize,
                      @DefaultValue("0") String blocksToSwap, @DefaultValue("upcast") String fp8Matmul) {
        public Dit {
            weightStorage(storage, fp8BlockSize, fp8Matmul);   // fail at start-up on a bad value
            ModelOptions.BlocksToSwap.parse(blocksToSwap);
        }

        public ModelOptions.BlocksToSwap swap() { return ModelOptions.BlocksToSwap.parse(blocksToSwap); }

        public WeightStorage weightStorage() { return weightStorage(storage, fp8BlockSize, fp8Matmul); }

        private static WeightStorage weightStorage(String storage, int blockSize, String matmul) {
            WeightStorage.Matmul mm = switch (matmul == null ? "upcast" : matmul.strip().toLowerCase(Locale.ROOT)) {
                case "upcast" -> WeightStorage.Matmul.UPCAST;
                case "scaled-mm" -> WeightStorage.Matmul.SCALED_MM;
                default -> throw new IllegalArgumentException("kaze.dit.fp8-matmul is '" + matmul + "'; use upcast or scaled-mm");
            };
            WeightStorage.Format format = switch (storage == null ? "compute" : storage.strip().toLowerCase(Locale.ROOT)) {
                case "compute" -> null;
                case "fp8-e4m3" -> WeightStorage.Format.FP8_E4M3;
                case "fp8-e5m2" -> WeightStorage.Format.FP8_E5M2;
                default -> throw new IllegalArgumentException("kaze.dit.storage is '" + storage
                        + "'; use compute, fp8-e4m3 or fp8-e5m2");
            };
            if (blockSize < 0)
                throw new IllegalArgumentException("kaze.dit.fp8-block-size is " + blockSize + "; use 0 (one scale per tensor) or a positive block size such as 128");
            if (format == null) return WeightStorage.COMPUTE;
            return (blockSize == 0 ? WeightStorage.perTensor(format)
                    : WeightStorage.blockwise(format, blockSize)).withMatmul(mm);
        }
    }

    /**
     * @param dir             the active model's directory (Hugging Face or ComfyUI layout); null serves the preview model.
     *                        An incomplete directory is reported by readiness and loaded as soon as it is complete
     * @param loras           the LoRA catalog, one {@code <name>.safetensors} per LoRA (default {@code <dir>/loras}, or
     *                        {@code <data dir>/loras} with the preview model)
     * @param root            where {@code POST /v1/models/<bundle>/pull} puts a model bundle, as {@code <root>/<bundle>}
     *                        (default {@code <data dir>/models})
     * @param hfEndpoint      the Hugging Face hub or mirror to pull from (default $HF_ENDPOINT, else https://huggingface.co)
     * @param hfToken         a Hugging Face token for gated repositories (default $HF_TOKEN)
     * @param civitaiEndpoint Civitai's address (default $CIVITAI_ENDPOINT, else https://civitai.com)
     * @param civitaiToken    a Civitai API key, needed for the Ghibli LoRA (default $CIVITAI_TOKEN)
     */
    public record Models(Path dir, Path loras, Path root, String hfEndpoint, String hfToken, String civitaiEndpoint,
                         String civitaiToken) {}

    /** The models root: kaze.models.root, else {@code <data dir>/models}. */
    public Path modelsRoot() {
        return models != null && models.root() != null ? models.root() : dataDir.resolve("models");
    }

    /** The active model's directory, or null for the preview model. */
    public Path modelDir() { return models == null ? null : models.dir(); }

    /**
     * @param anonymous allow requests without a key (the local quickstart enables it); with no keys configured a request
     *                  with any key is let in too (OpenAI's SDKs always send one). With anonymous off and no keys, the
     *                  first start creates an admin key in {@code <data dir>/admin-key}
     * @param keys      API keys: {@code kaze.auth.keys[N].id} (the owner of its jobs), {@code .sha256} (the hex SHA-256
     *                  of the key) or {@code .key} (the key itself), {@code .max-queued}, and {@code .admin}
     */
    public record Auth(@DefaultValue("false") boolean anonymous, List<ApiKey> keys) {
        public Auth {
            keys = keys == null ? List.of() : List.copyOf(keys);
        }
    }

    /**
     * @param sha256    hex SHA-256 of the key (preferred); key: the key itself, hashed at start-up
     * @param maxQueued queued or running jobs this key may have (overrides kaze.limits.per-key-queued)
     * @param admin     may pull models ({@code POST /v1/models/<bundle>/pull}); default false
     */
    public record ApiKey(String id, String sha256, String key, Integer maxQueued, Boolean admin) {}

    /**
     * @param maxQueued       jobs waiting in the whole queue before submissions get 429
     * @param perKeyQueued    queued or running jobs one key may have
     * @param readTimeout     the longest pause while a request body arrives before the answer is 408
     * @param requestTimeout  the longest a whole request body may take to arrive before the answer is 408 (long enough
     *                        for multi-GB LoRA and dataset uploads; readTimeout cuts off stalled bodies)
     * @param loraUploadMax   the largest LoRA file {@code POST /v1/loras} accepts (streamed to disk, never held in memory)
     */
    public record Limits(@DefaultValue("1000") int maxQueued, @DefaultValue("50") int perKeyQueued,
                         @DefaultValue("10s") Duration readTimeout, @DefaultValue("30m") Duration requestTimeout,
                         @DefaultValue("2GB") DataSize loraUploadMax) {}

    /** @param allowedOrigins origins (such as {@code https://app.example.com}) allowed to call the API from a browser; none by default */
    public record Cors(List<String> allowedOrigins) {
        public Cors {
            allowedOrigins = allowedOrigins == null ? List.of() : List.copyOf(allowedOrigins);
        }
    }

    /**
     * @param secret the Standard Webhooks signing secret ({@code whsec_…}); generated and kept in
     *               the data directory when not set
     */
    public record Webhooks(String secret) {}

    /**
     * @param checkpointEvery save the latent every this many steps, so a restarted render resumes
     * @param enabled         run the device worker in this process; {@code false} makes an API-only replica that
     *                        queues jobs for workers elsewhere (they share the PostgreSQL job store). Kept for
     *                        compatibility: the same as kaze.role=api, and kaze.role wins when set
     */
    public record Worker(@DefaultValue("2") int checkpointEvery, @DefaultValue("true") boolean enabled) {}

    /** @param s3 an S3-compatible bucket for every replica's files; unset (no bucket): the local data directory */
    public record Storage(@DefaultValue S3 s3) {}

    /**
     * @param endpoint  the S3 API's address ({@code http://minio:9000}); unset for AWS S3
     * @param bucket    the bucket (it must exist); setting it turns the bucket on
     * @param region    the signing region ({@code us-east-1} suits most S3-compatible servers; {@code auto} for R2)
     * @param pathStyle address the bucket as {@code <endpoint>/<bucket>} (MinIO, Ceph, s3proxy); false for virtual hosts
     * @param accessKey the access key (with secretKey); unset: the AWS default chain ({@code AWS_ACCESS_KEY_ID} and
     *                  {@code AWS_SECRET_ACCESS_KEY}, a profile, web identity or an instance role)
     * @param secretKey the secret key
     * @param prefix    where Kaze's keys start in the bucket (one bucket, several installs)
     */
    public record S3(String endpoint, String bucket, @DefaultValue("us-east-1") String region,
                     @DefaultValue("true") boolean pathStyle, String accessKey, String secretKey, String prefix) {
        public S3 {
            settings();   // fail at start-up on a bad value
        }

        /** The bucket's settings, or null when no bucket is set. */
        public S3Settings settings() {
            if (bucket == null || bucket.isBlank()) return null;
            return new S3Settings(endpoint, bucket, region, pathStyle, accessKey, secretKey, prefix);
        }
    }

    /** @param minInterval at most one live preview event per this interval while a video renders (the last step's always comes) */
    public record Previews(@DefaultValue("1s") Duration minInterval) {}

    /**
     * An OpenAI-compatible chat-completions endpoint that expands prompts ({@code POST /v1/prompts/enhance},
     * {@code enhance_prompt: true}); off while baseUrl is not set.
     *
     * @param baseUrl the API root, e.g. {@code https://api.openai.com/v1} or {@code http://127.0.0.1:11434/v1} (Ollama);
     *                {@code /chat/completions} is appended
     * @param model   the model the endpoint serves
     * @param apiKey  sent as a Bearer token when set
     * @param timeout the longest a whole answer may take
     */
    public record PromptEnhancer(String baseUrl, String model, String apiKey, @DefaultValue("60s") Duration timeout) {}
}
