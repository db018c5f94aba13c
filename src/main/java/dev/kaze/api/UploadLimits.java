package dev.kaze.api;

import java.util.List;

/** The size limits of the two uploads that stream to disk: a LoRA file and a training's dataset archive. */
public record UploadLimits(BodyLimitFilter.Upload lora, BodyLimitFilter.Upload dataset) {
    /** The LoRA upload limit and the property that sets it. */
    public static BodyLimitFilter.Upload lora(long maxBytes, String property) {
        return new BodyLimitFilter.Upload(LoraController.PATH, maxBytes, "a LoRA file", property);
    }

    /** The dataset upload limit and the property that sets it. */
    public static BodyLimitFilter.Upload dataset(long maxBytes, String property) {
        return new BodyLimitFilter.Upload(TrainingController.PATH, maxBytes, "a dataset archive", property);
    }

    public List<BodyLimitFilter.Upload> all() { return List.of(lora, dataset); }
}
