package dev.kaze.training;

import java.nio.file.Path;

/** A video {@code [[datasets]]} table. */
public record VideoDatasetConfig(int index, DatasetParams params, Path directory, Path jsonlFile, Path cacheDirectory,
                                 FrameSettings frames) implements Dataset {
}
