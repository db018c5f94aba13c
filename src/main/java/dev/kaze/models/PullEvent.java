package dev.kaze.models;

import java.nio.file.Path;

/** What a pull reports, in order: per file Started, Progress…, Verified, Done; then BundleDone. */
public sealed interface PullEvent {
    /** A transfer begins; resumedFrom is the number of bytes kept from an earlier partial download. */
    record FileStarted(String file, Path target, long totalBytes, long resumedFrom) implements PullEvent {}

    /** totalBytes is -1 when the server did not say; bytesPerSecond is measured over this transfer. */
    record FileProgress(String file, long doneBytes, long totalBytes, double bytesPerSecond) implements PullEvent {}

    /** The bytes matched the published hash (algorithm is sha256 or git-sha1, or "none" when nothing is published). */
    record FileVerified(String file, String algorithm, String hash) implements PullEvent {}

    /** The file is in place; downloaded is false when a verified copy was already there. */
    record FileDone(String file, Path target, long bytes, boolean downloaded) implements PullEvent {}

    record BundleDone(String bundle, Path directory, int files, long bytes) implements PullEvent {}
}
