package dev.kaze.api;

import dev.kaze.training.DatasetArchive;

import java.nio.file.Path;

/**
 * Where training datasets come from: directories under {@code root}, or zip uploads unpacked under
 * {@code uploads} within the archive limits.
 */
public record TrainingDatasets(Path root, Path uploads, DatasetArchive.Limits archiveLimits) {}
