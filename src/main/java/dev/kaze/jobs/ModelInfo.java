package dev.kaze.jobs;

import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.tensor.TensorSource;

import java.util.List;
import java.util.function.Supplier;

/**
 * What the API needs to know of the served model before its weights are loaded: its id, its
 * LoRA catalog, the default LoRA stack (resolved requests are recorded at submission) and the
 * DiT's keys and shapes, to check an uploaded LoRA against.
 *
 * @param ditShapes opens the DiT's keys and shapes without loading its weights (a checkpoint's
 *                  header, or the preview model's generated layout); blocking, the caller closes
 *                  what it returns; null where unknown
 * @param identity  the model's cheap stable identity for usage records ({@link ModelIdentity}); the id where
 *                  there are no files
 */
public record ModelInfo(String id, boolean preview, LoraCatalog loras, List<GenerateRequest.LoraRef> defaultLoras,
                        Supplier<TensorSource> ditShapes, String identity) {
    public ModelInfo {
        defaultLoras = List.copyOf(defaultLoras);
        if (identity == null) identity = id;
    }

    public ModelInfo(String id, boolean preview, LoraCatalog loras, List<GenerateRequest.LoraRef> defaultLoras,
                     Supplier<TensorSource> ditShapes) {
        this(id, preview, loras, defaultLoras, ditShapes, id);
    }

    public ModelInfo(String id, boolean preview, LoraCatalog loras, List<GenerateRequest.LoraRef> defaultLoras) {
        this(id, preview, loras, defaultLoras, null);
    }
}
