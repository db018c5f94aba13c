package dev.kaze.tensor;

import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * Named tensors a model is built from: checkpoint files on disk, or a manifest of shapes that
 * yields tensors on the meta device (so a builder can be checked without allocating real sizes).
 */
public interface TensorSource extends AutoCloseable {
    /** Every key, after prefix normalisation, in a stable order. */
    Set<String> keys();

    /** dtype and shape of a key; null when absent. */
    TensorSpec spec(String key);

    /** A new tensor holding the stored values in their stored dtype (CPU, or meta for a manifest). */
    Tensor load(String key);

    /** Where a key comes from, for error messages (a file name). */
    String origin(String key);

    /** A description of the whole source, for error messages. */
    String describe();

    @Override default void close() {}

    /**
     * Opens a checkpoint by its file name: a {@code torch.save} zip ({@code .pth}, {@code .pt}) or
     * safetensors (a file, a {@code .safetensors.index.json}, or a directory holding one).
     */
    static TensorSource open(Path path) {
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".pth") || name.endsWith(".pt")) return PthFile.open(path);
        return Checkpoint.open(path);
    }
}
