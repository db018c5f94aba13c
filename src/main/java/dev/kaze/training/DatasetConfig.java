package dev.kaze.training;

import java.nio.file.Path;
import java.util.List;

/**
 * A musubi-tuner dataset config ({@code [general]} + {@code [[datasets]]}), validated and with every default and
 * {@code [general]} fallback applied. {@code warnings} lists the adjustments musubi-tuner makes with a warning
 * (target_frames rounded down to 4k+1, uniform with frame_sample 1 run as head).
 */
public record DatasetConfig(Path source, List<Dataset> datasets, List<String> warnings) {
    public DatasetConfig {
        datasets = List.copyOf(datasets);
        warnings = List.copyOf(warnings);
    }
}
