package dev.kaze.training;

import java.nio.file.Path;

/** An image {@code [[datasets]]} table. FramePack/edit/control keys are accepted by the reader and not kept. */
public record ImageDatasetConfig(int index, DatasetParams params, Path directory, Path jsonlFile, Path cacheDirectory)
        implements Dataset {
}
