package dev.kaze.training;

import dev.kaze.pipeline.WanPipeline;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.stream.Stream;

/**
 * The data side of a LoRA run: {@link #check} finds every problem of a dataset config before anything is encoded,
 * {@link #prepare} turns the checked items into {@link TrainingSample}s through musubi-tuner-format caches
 * ({@link TrainingCache}).
 *
 * <p>Unlike musubi-tuner (whose current version silently skips an image without a caption file), a media file
 * without its caption is an error here, as is an unreadable image or video (images are decoded whole, videos decoded
 * frame by frame, so a truncated file is caught), a dataset that yields no item, and two media whose cache files
 * would collide ({@code a.mp4} and {@code a.mov}). Clips too short for some of their {@code target_frames} are not
 * errors (musubi-tuner drops those windows; the reference run had one such clip): they are reported as warnings.
 */
public final class TrainingData {
    private TrainingData() {
    }

    /** The items of every dataset, checked, and the warnings (windows left out of clips too short for them). */
    public record Checked(DatasetConfig config, List<DatasetItems> datasets, List<String> warnings) {
        public Checked {
            datasets = List.copyOf(datasets);
            warnings = List.copyOf(warnings);
        }

        /** Items over all datasets (each counted once, without num_repeats). */
        public int itemCount() {
            return datasets.stream().mapToInt(d -> d.items().size()).sum();
        }

        /** The training samples of one epoch: items × num_repeats over the datasets not held out for validation. */
        public int trainingSamples() {
            return datasets.stream().filter(d -> !config.isValidation(d.dataset().index()))
                    .mapToInt(d -> d.items().size() * d.dataset().params().numRepeats()).sum();
        }

        /**
         * Splits what {@link #prepare} returned (in dataset order, num_repeats times each) into the training samples and
         * the validation samples (each validation item once, whatever its num_repeats).
         */
        public Split split(List<TrainingSample> prepared) {
            List<TrainingSample> train = new ArrayList<>(), validation = new ArrayList<>();
            int at = 0;
            for (DatasetItems d : datasets) {
                int repeats = d.dataset().params().numRepeats(), n = d.items().size() * repeats;
                List<TrainingSample> part = prepared.subList(at, at + n);
                if (config.isValidation(d.dataset().index())) for (int i = 0; i < n; i += repeats) validation.add(part.get(i));
                else train.addAll(part);
                at += n;
            }
            if (at != prepared.size())
                throw new IllegalArgumentException("expected " + at + " prepared samples for these datasets, got " + prepared.size());
            return new Split(train, validation);
        }
    }

    /** The samples trained on, and those held out for validation. */
    public record Split(List<TrainingSample> training, List<TrainingSample> validation) {
        public Split {
            training = List.copyOf(training);
            validation = List.copyOf(validation);
        }
    }

    /** {@link #check(DatasetConfig, boolean)} with musubi-tuner's video bucketing quirk (the default). */
    public static Checked check(DatasetConfig config) {
        return check(config, false);
    }

    /**
     * Lists, reads and probes every media file of every dataset and builds the items. Throws a
     * {@link DatasetCheckException} with every problem found (not only the first) when anything cannot be trained on;
     * nothing is encoded or written.
     */
    public static Checked check(DatasetConfig config, boolean honorVideoBucketFlags) {
        List<DatasetProblem> problems = new ArrayList<>();
        List<DatasetItems> all = new ArrayList<>();
        List<String> warnings = new ArrayList<>(config.warnings());
        for (Dataset d : config.datasets()) {
            int before = problems.size();
            DatasetMedia.Listing listing = list(d, problems);
            Map<Path, Size> sizes = new HashMap<>();
            Map<Path, VideoClip.Info> probes = new HashMap<>();
            String key = mediaKey(d);
            for (MediaFile f : listing.files()) {
                try {
                    if (d instanceof VideoDatasetConfig) probes.put(f.path(), VideoClip.probe(f.path()));
                    else sizes.put(f.path(), readImageSize(f.path()));
                } catch (DatasetMediaException e) {
                    problems.add(new DatasetProblem(d.index(), key, f.path(), withoutFile(e)));
                }
            }
            if (problems.size() > before) continue;
            DatasetItems items = DatasetItems.build(d, listing, sizes::get, probes::get, honorVideoBucketFlags);
            warnings.addAll(items.notes().stream().map(n -> "datasets[" + d.index() + "]: " + n).toList());
            if (items.items().isEmpty()) {
                problems.add(new DatasetProblem(d.index(), key, d.directory() != null ? d.directory() : d.jsonlFile(),
                        listing.files().isEmpty()
                                ? "no " + (d instanceof VideoDatasetConfig ? "videos (" + DatasetMedia.VIDEO_EXTENSIONS
                                : "images (" + DatasetMedia.IMAGE_EXTENSIONS) + ") found; add media with captions or remove the dataset"
                                : "the dataset yields no training item: " + String.join("; ", items.notes())
                                  + "; add longer clips or lower target_frames"));
                continue;
            }
            collisions(d, items, problems);
            all.add(items);
        }
        if (!problems.isEmpty()) throw new DatasetCheckException(config.source(), problems);
        return new Checked(config, all, warnings);
    }

    /** Progress of {@link #prepare}. */
    public interface CacheListener {
        /**
         * After each item's caches are ready: done counts from 1 to total (items, without num_repeats);
         * latentReused / textReused say whether the cache file was reused (true) or encoded now (false).
         */
        void onItem(int done, int total, TrainingItem item, boolean latentReused, boolean textReused);

        /** Asked before each item; true stops {@link #prepare} with a {@link CancellationException}. */
        default boolean stopRequested() {
            return false;
        }

        CacheListener NONE = (done, total, item, latentReused, textReused) -> {
        };
    }

    /** {@link #check(DatasetConfig)}, then {@link #prepare(WanPipeline, Checked, CacheListener)}. */
    public static List<TrainingSample> prepare(WanPipeline pipeline, DatasetConfig config, CacheListener listener) {
        return prepare(pipeline, check(config), listener);
    }

    /**
     * The training samples of checked datasets: for each item, its latent and text caches (see {@link TrainingCache})
     * in the dataset's cache_directory are reused when still valid, otherwise encoded with the pipeline's VAE and text
     * encoder and written. The samples are read back from the cache files (bf16 values as float32, on the CPU, in the
     * caller's pointer scope), so a run trains on the same values whether its caches were reused or not. Samples are in
     * dataset and item order, each listed num_repeats times (musubi-tuner's epoch); windows of one video share one
     * context tensor. Cache files that no item uses are left alone.
     */
    public static List<TrainingSample> prepare(WanPipeline pipeline, Checked checked, CacheListener listener) {
        String modelId = pipeline.model().id();
        int textDim = pipeline.model().textEncoder().config().dim();
        int total = checked.itemCount();
        int done = 0;
        List<TrainingSample> samples = new ArrayList<>();
        for (DatasetItems d : checked.datasets()) {
            Path cacheDir = d.dataset().cacheDirectory();
            Map<Path, String> hashes = new HashMap<>();
            Map<Path, Tensor> contexts = new HashMap<>();
            Map<Path, Boolean> textReused = new HashMap<>();
            for (TrainingItem item : d.items()) {
                if (listener.stopRequested()) throw new CancellationException("stopped while preparing the caches");
                Path latentFile = cacheDir.resolve(item.latentCacheName());
                Path textFile = cacheDir.resolve(item.textCacheName());
                String sha = hashes.computeIfAbsent(item.media(), TrainingCache::sha256);
                Map<String, String> latentMeta = TrainingCache.latentMetadata(item, sha, size(item.media()), modelId);
                boolean latentReused = TrainingCache.latentStale(latentFile, item, latentMeta) == null;
                if (!latentReused) {
                    try (PointerScope scope = new PointerScope()) {
                        Tensor latent = TrainingSample.encodeLatent(pipeline, DatasetItems.pixels(item)); // latent: [16, F, h, w]
                        TrainingCache.writeLatent(latentFile, item, latent, latentMeta);
                    }
                }
                if (!contexts.containsKey(item.media())) {
                    Map<String, String> textMeta = TrainingCache.textMetadata(item.caption(), modelId);
                    boolean reused = TrainingCache.textStale(textFile, item.caption(), textDim, textMeta) == null;
                    if (!reused) {
                        try (PointerScope scope = new PointerScope()) {
                            Tensor context = pipeline.encode(item.caption());                       // context: [L, text_dim]
                            TrainingCache.writeText(textFile, context, textMeta);
                        }
                    }
                    textReused.put(item.media(), reused);
                    contexts.put(item.media(), TrainingCache.readFloat(textFile, TrainingCache.TEXT_KEY));
                }
                Tensor latent = TrainingCache.readFloat(latentFile, TrainingCache.latentKey(item));  // latent: [16, F, h, w]
                TrainingSample sample = new TrainingSample(latent, contexts.get(item.media()));
                for (int r = 0; r < d.dataset().params().numRepeats(); r++) samples.add(sample);
                listener.onItem(++done, total, item, latentReused, textReused.get(item.media()));
            }
        }
        return samples;
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new DatasetMediaException(file, "cannot read the file: " + e.getMessage(), e);
        }
    }

    /** The config key that names where the dataset's media come from. */
    static String mediaKey(Dataset d) {
        boolean video = d instanceof VideoDatasetConfig;
        if (d.directory() != null) return video ? "video_directory" : "image_directory";
        return video ? "video_jsonl_file" : "image_jsonl_file";
    }

    /** The dataset's media with their captions; every problem (missing caption, bad caption, no directory) collected. */
    private static DatasetMedia.Listing list(Dataset d, List<DatasetProblem> problems) {
        boolean video = d instanceof VideoDatasetConfig;
        String key = mediaKey(d);
        if (d.directory() == null) {
            try {
                return DatasetMedia.jsonl(d.jsonlFile(), video);
            } catch (DatasetMediaException e) {
                problems.add(new DatasetProblem(d.index(), key, e.file(), withoutFile(e)));
                return new DatasetMedia.Listing(List.of(), List.of());
            }
        }
        Path dir = d.directory();
        if (!Files.isDirectory(dir)) {
            problems.add(new DatasetProblem(d.index(), key, dir, "the directory does not exist; paths in the dataset config are "
                    + "relative to the dataset's folder (e.g. " + key + " = \"" + (video ? "videos" : "images") + "\"), not paths on the machine it was made on"));
            return new DatasetMedia.Listing(List.of(), List.of());
        }
        String ext = d.params().captionExtension();
        if (ext == null) {
            problems.add(new DatasetProblem(d.index(), "caption_extension", dir, "caption_extension is not set, so"
                    + " captions cannot be found; set it (e.g. caption_extension = \".txt\") in [general] or the dataset"));
            return new DatasetMedia.Listing(List.of(), List.of());
        }
        List<Path> media;
        try (Stream<Path> s = Files.list(dir)) {
            media = s.filter(Files::isRegularFile)
                    .filter(p -> DatasetMedia.hasExtension(p, video ? DatasetMedia.VIDEO_EXTENSIONS : DatasetMedia.IMAGE_EXTENSIONS))
                    .sorted().toList();
        } catch (IOException e) {
            problems.add(new DatasetProblem(d.index(), key, dir, "cannot list the directory: " + e.getMessage()));
            return new DatasetMedia.Listing(List.of(), List.of());
        }
        List<MediaFile> files = new ArrayList<>();
        for (Path p : media) {
            Path caption = DatasetMedia.captionFile(p, ext);
            if (!Files.isRegularFile(caption)) {
                problems.add(new DatasetProblem(d.index(), key, p, "no caption file; expected " + caption
                        + " (caption_extension \"" + ext + "\"): write the caption there or remove the "
                        + (video ? "video" : "image")));
                continue;
            }
            try {
                files.add(new MediaFile(p, DatasetMedia.readCaption(caption)));
            } catch (DatasetMediaException e) {
                problems.add(new DatasetProblem(d.index(), key, e.file(), withoutFile(e)));
            }
        }
        return new DatasetMedia.Listing(files, List.of());
    }

    /** Two items of one dataset that would write the same cache file (same stem, different media). */
    private static void collisions(Dataset d, DatasetItems items, List<DatasetProblem> problems) {
        Map<String, Path> stems = new LinkedHashMap<>();
        for (TrainingItem item : items.items()) {
            Path other = stems.putIfAbsent(item.textCacheName(), item.media());
            if (other != null && !other.equals(item.media())) {
                problems.add(new DatasetProblem(d.index(), mediaKey(d), item.media(), "has the same name stem as " + other
                        + ", so both would use the cache file " + item.textCacheName() + "; rename one of them"));
                stems.put(item.textCacheName(), item.media());
            }
        }
    }

    private static String withoutFile(DatasetMediaException e) {
        String prefix = e.file() + ": ";
        String m = e.getMessage();
        return m.startsWith(prefix) ? m.substring(prefix.length()) : m;
    }

    /**
     * Decodes the whole image (not only its header) and returns its size. A decoder warning (a truncated JPEG is
     * decoded with a grey bottom and only a warning) counts as damage.
     */
    static Size readImageSize(Path file) {
        if (!Files.isRegularFile(file)) throw new DatasetMediaException(file, "no such image file");
        List<String> warnings = new ArrayList<>();
        BufferedImage image;
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext())
                throw new DatasetMediaException(file, "unreadable image: no decoder recognises it (PNG, JPEG, BMP, GIF"
                        + " are supported); convert it or remove it from the dataset");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                reader.addIIOReadWarningListener((IIOReadWarningListener) (source, warning) -> warnings.add(warning));
                image = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof DatasetMediaException d) throw d;
            throw new DatasetMediaException(file, "unreadable or damaged image (" + e.getMessage() + "); re-save it or"
                    + " remove it from the dataset", e);
        }
        if (!warnings.isEmpty())
            throw new DatasetMediaException(file, "damaged image (" + warnings.getFirst() + "); re-save it or remove it"
                    + " from the dataset");
        return new Size(image.getWidth(), image.getHeight());
    }
}
