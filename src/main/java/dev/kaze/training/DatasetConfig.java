package dev.kaze.training;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * A musubi-tuner dataset config ({@code [general]} + {@code [[datasets]]}), validated and with every default and
 * {@code [general]} fallback applied. {@code warnings} lists the adjustments musubi-tuner makes with a warning
 * (target_frames rounded down to 4k+1, uniform with frame_sample 1 run as head).
 *
 * <p>{@code validation} holds the indices of the datasets marked {@code validation = true} (Kaze's key; musubi-tuner
 * has no validation): they are held out of training, and their loss is measured at the cadence of the
 * {@code validate_every_n_steps} / {@code validate_every_n_epochs} arguments (see {@link ValidationLoss}).
 */
public record DatasetConfig(Path source, List<Dataset> datasets, List<String> warnings, Set<Integer> validation) {
    /** The per-dataset key that holds a dataset out of training for validation. */
    public static final String VALIDATION_KEY = "validation";

    public DatasetConfig {
        datasets = List.copyOf(datasets);
        warnings = List.copyOf(warnings);
        validation = validation == null ? Set.of() : Set.copyOf(validation);
    }

    /** A config with no validation datasets. */
    public DatasetConfig(Path source, List<Dataset> datasets, List<String> warnings) { this(source, datasets, warnings, Set.of()); }

    /** Whether the dataset with this index is held out for validation. */
    public boolean isValidation(int index) { return validation.contains(index); }
}
