package dev.kaze.training;

import java.nio.file.Path;

/** A media or caption file of a dataset that cannot be used; the message names the file and what to do. */
public final class DatasetMediaException extends RuntimeException {
    private final Path file;

    public DatasetMediaException(Path file, String problem) {
        this(file, problem, null);
    }

    public DatasetMediaException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    public Path file() {
        return file;
    }
}
