package dev.kaze.training;

import java.nio.file.Path;

/** One {@code [[datasets]]} table: image or video (a video dataset is one with video_directory or video_jsonl_file). */
public sealed interface Dataset permits ImageDatasetConfig, VideoDatasetConfig {
    /** 0-based position among the {@code [[datasets]]} tables. */
    int index();

    DatasetParams params();

    /** The media directory, or null when the dataset lists its media in a JSONL file. */
    Path directory();

    /** The JSONL file ({@code {"image_path"|"video_path": ..., "caption": ...}} per line), or null. */
    Path jsonlFile();

    /** Where the latent and text-encoder caches go (defaults to the media directory); unique per dataset. */
    Path cacheDirectory();
}
