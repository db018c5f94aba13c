package dev.kaze.jobs;

import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.LoraCatalog;

import java.util.List;

/**
 * What the API needs to know of the served model before its weights are loaded: its id, its
 * LoRA catalog and the default LoRA stack (resolved requests are recorded at submission).
 */
public record ModelInfo(String id, boolean preview, LoraCatalog loras, List<GenerateRequest.LoraRef> defaultLoras) {
    public ModelInfo {
        defaultLoras = List.copyOf(defaultLoras);
    }
}
