package dev.kaze.video;

import java.nio.file.Path;

/** Writing, reading or probing a video file failed; the message names the file. */
public class VideoException extends RuntimeException {
    private final Path file;

    public VideoException(Path file, String message, Throwable cause) {
        super(file + ": " + message, cause);
        this.file = file;
    }

    public VideoException(Path file, String message) {
        this(file, message, null);
    }

    public Path file() {
        return file;
    }
}
