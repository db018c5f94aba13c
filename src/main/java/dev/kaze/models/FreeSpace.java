package dev.kaze.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Usable bytes on the disk holding an existing directory (tests fake a full disk). */
@FunctionalInterface
public interface FreeSpace {
    FreeSpace DISK = dir -> Files.getFileStore(dir).getUsableSpace();

    long usableBytes(Path existingDirectory) throws IOException;
}
