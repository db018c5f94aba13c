package dev.kaze.training;

/**
 * The "ascendable" keys of musubi-tuner's dataset config (settable in {@code [general]} or per dataset), after the
 * fallback dataset → general → default. {@code bucketNoUpscale} is already forced to false when buckets are off.
 *
 * @param resolution       target area W×H for buckets ({@code resolution}, default 960×544)
 * @param captionExtension e.g. ".txt" ({@code caption_extension}, default none: null)
 */
public record DatasetParams(Size resolution, String captionExtension, int batchSize, int numRepeats,
                            boolean enableBucket, boolean bucketNoUpscale) {
    public static final Size DEFAULT_RESOLUTION = new Size(960, 544);
}
