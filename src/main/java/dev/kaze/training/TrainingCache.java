// Port of musubi-tuner dataset/cache_io.py (save_latent_cache_wan, save_text_encoder_output_cache_wan): file names, keys, metadata
package dev.kaze.training;

import dev.kaze.tensor.DType;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.SafetensorsWriter;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

import static dev.kaze.tensor.Ops.s;

/**
 * The latent and text-encoder cache files, in musubi-tuner's format so that caches are interchangeable both ways.
 *
 * <ul>
 * <li>Latent: {@code {stem}_{W:04d}x{H:04d}_wan.safetensors} (image) or
 * {@code {stem}_{start:05d}-{T:03d}_{W:04d}x{H:04d}_wan.safetensors} (video window), W×H the media's original size;
 * one tensor {@code latents_{F}x{h}x{w}_bfloat16} [16, F, h, w] bf16 (F, h, w the latent's frames, height, width);
 * metadata {@code architecture=wan}, {@code width}, {@code height}, {@code format_version=1.0.1} and, for videos,
 * {@code frame_count=T}.</li>
 * <li>Text: {@code {stem}_wan_te.safetensors}, one tensor {@code varlen_t5_bfloat16} [L, text_dim] bf16 (L the
 * non-padding tokens including EOS); metadata {@code architecture=wan}, {@code caption1}, {@code format_version}.</li>
 * </ul>
 *
 * <p><b>When a cache file is reused.</b> Files written by Kaze carry extra metadata ({@code kaze_cache_format}, the
 * media's SHA-256 and size, the bucket, the window and source_fps, the model id) and are re-encoded when any of it
 * differs from what the item needs now. A musubi-made file has no {@code kaze_} keys and no hash: it is reused when its
 * name (media stem, original size, window), its tensor key and shape (so the bucket) and dtype match and, for text,
 * its {@code caption1} equals the caption; an edited image of the same size, a changed VAE or another source_fps are
 * not detected for such files (as with musubi-tuner's {@code --skip_existing}). Anything else (missing, unreadable,
 * another shape) is re-encoded and overwritten.
 */
public final class TrainingCache {
    public static final String ARCHITECTURE = "wan";
    public static final String FORMAT_VERSION = "1.0.1";
    public static final String TEXT_KEY = "varlen_t5_bfloat16";
    /** Marks a file written by Kaze; its value is the version of Kaze's extra keys. */
    public static final String KAZE_FORMAT = "kaze_cache_format";
    static final String KAZE_FORMAT_VERSION = "1";
    static final String KAZE_SOURCE_SHA256 = "kaze_source_sha256";
    static final String KAZE_SOURCE_SIZE = "kaze_source_size";
    static final String KAZE_BUCKET = "kaze_bucket";
    static final String KAZE_WINDOW = "kaze_window";
    static final String KAZE_SOURCE_FPS = "kaze_source_fps";
    static final String KAZE_MODEL = "kaze_model";
    public static final int LATENT_CHANNELS = 16;

    private TrainingCache() {
    }

    /** The latent's frame count for T pixel frames: 1 + (T-1)/4. */
    public static int latentFrames(int frames) {
        return 1 + (frames - 1) / 4;
    }

    /** The latent tensor key, {@code latents_{F}x{h}x{w}_bfloat16}. */
    public static String latentKey(TrainingItem item) {
        return "latents_" + latentFrames(item.frames()) + "x" + item.bucket().height() / 8 + "x" + item.bucket().width() / 8
                + "_bfloat16";
    }

    /** The latent's shape [16, F, h, w]. */
    public static long[] latentShape(TrainingItem item) {
        return new long[]{LATENT_CHANNELS, latentFrames(item.frames()), item.bucket().height() / 8, item.bucket().width() / 8};
    }

    /** musubi's latent metadata plus Kaze's identity of what the latent was made from. */
    static Map<String, String> latentMetadata(TrainingItem item, String sourceSha256, long sourceSize, String modelId) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("architecture", ARCHITECTURE);
        m.put("width", Integer.toString(item.original().width()));
        m.put("height", Integer.toString(item.original().height()));
        m.put("format_version", FORMAT_VERSION);
        if (item.video()) m.put("frame_count", Integer.toString(item.frames()));
        m.put(KAZE_FORMAT, KAZE_FORMAT_VERSION);
        m.put(KAZE_SOURCE_SHA256, sourceSha256);
        m.put(KAZE_SOURCE_SIZE, Long.toString(sourceSize));
        m.put(KAZE_BUCKET, item.bucket().toString());
        m.put(KAZE_WINDOW, item.video() ? item.start() + "+" + item.frames() : "image");
        m.put(KAZE_SOURCE_FPS, item.sourceFps() == null ? "none" : Double.toString(item.sourceFps()));
        m.put(KAZE_MODEL, modelId);
        return m;
    }

    /** musubi's text metadata plus the model id. */
    static Map<String, String> textMetadata(String caption, String modelId) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("architecture", ARCHITECTURE);
        m.put("caption1", caption);
        m.put("format_version", FORMAT_VERSION);
        m.put(KAZE_FORMAT, KAZE_FORMAT_VERSION);
        m.put(KAZE_MODEL, modelId);
        return m;
    }

    /**
     * Why the latent cache file cannot be reused for an item with this metadata, or null when it can (see the class
     * doc for the rules).
     */
    static String latentStale(Path file, TrainingItem item, Map<String, String> expected) {
        return stale(file, latentKey(item), expected, shape -> Arrays.equals(shape, latentShape(item)), Map.of());
    }

    /** Why the text cache file cannot be reused, or null when it can; text_dim is the text encoder's width. */
    static String textStale(Path file, String caption, int textDim, Map<String, String> expected) {
        return stale(file, TEXT_KEY, expected, shape -> shape.length == 2 && shape[0] >= 1 && shape[1] == textDim,
                Map.of("caption1", caption));
    }

    private static String stale(Path file, String key, Map<String, String> expected,
                                Predicate<long[]> shapeOk, Map<String, String> musubiChecks) {
        if (!Files.isRegularFile(file)) return "no cache file";
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            SafetensorsFile.Entry e = f.entries().get(key);
            if (e == null) return "no tensor " + key + " (has " + f.entries().keySet() + ")";
            TensorSpec spec = e.spec();
            if (spec.dtype() != DType.BF16 || !shapeOk.test(spec.shape())) return "tensor " + key + " is " + spec;
            Map<String, String> meta = f.metadata();
            if (meta.containsKey(KAZE_FORMAT)) {
                for (Map.Entry<String, String> want : expected.entrySet())
                    if (!want.getValue().equals(meta.get(want.getKey())))
                        return want.getKey() + " is " + meta.get(want.getKey()) + ", now " + want.getValue();
            } else {   // made by musubi-tuner: only what it records can be compared
                String arch = meta.get("architecture");
                if (arch != null && !arch.equals(ARCHITECTURE)) return "architecture is " + arch;
                for (Map.Entry<String, String> want : musubiChecks.entrySet())
                    if (!want.getValue().equals(meta.get(want.getKey())))
                        return want.getKey() + " is " + meta.get(want.getKey()) + ", now " + want.getValue();
            }
            return null;
        } catch (WeightsException | IllegalArgumentException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /** Writes a latent [16, F, h, w] (any float dtype, any device) as bf16 with NaNs replaced by 0, as musubi does. */
    static void writeLatent(Path file, TrainingItem item, Tensor latent, Map<String, String> metadata) {
        if (!Arrays.equals(latent.sizes().vec().get(), latentShape(item)))
            throw new IllegalStateException("the VAE gave a latent of shape " + Arrays.toString(latent.sizes().vec().get())
                    + " for " + item.media() + ", expected " + Arrays.toString(latentShape(item)));
        Tensor clean = latent.masked_fill(latent.isnan(), s(0)).to(ScalarType.BFloat16).contiguous();
        SafetensorsWriter.write(file, Map.of(latentKey(item), clean), metadata);
    }

    /** Writes a text-encoder output [L, text_dim] as bf16. */
    static void writeText(Path file, Tensor context, Map<String, String> metadata) {
        SafetensorsWriter.write(file, Map.of(TEXT_KEY, context.to(ScalarType.BFloat16).contiguous()), metadata);
    }

    /** One tensor of a cache file as float32 on the CPU, in the caller's pointer scope. */
    static Tensor readFloat(Path file, String key) {
        PointerScope outer = PointerScope.getInnerScope();
        try (SafetensorsFile f = SafetensorsFile.open(file); PointerScope scope = new PointerScope()) {
            Tensor t = f.tensor(key).to(ScalarType.Float);
            if (outer != null) outer.attach(t);
            else t.retainReference();
            return t;
        }
    }

    /** The SHA-256 of a file, in hex. */
    static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new DatasetMediaException(file, "cannot read the file: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
