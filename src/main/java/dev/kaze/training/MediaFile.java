package dev.kaze.training;

import java.nio.file.Path;

/** One image or video of a dataset with its caption text (already stripped). */
public record MediaFile(Path path, String caption) {
}
