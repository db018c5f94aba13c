package dev.kaze.models;

/** A pull that failed, with a message that says what to do. */
public class PullException extends RuntimeException {
    public PullException(String message) { super(message); }

    public PullException(String message, Throwable cause) { super(message, cause); }

    /** Not enough disk space: nothing was written (or the partial file is kept for a later resume). */
    public static final class DiskFull extends PullException {
        private final long needed;
        private final long free;

        public DiskFull(String message, long needed, long free) {
            super(message);
            this.needed = needed;
            this.free = free;
        }

        public long needed() { return needed; }

        public long free() { return free; }
    }

    /** The downloaded bytes do not match the published hash (the file was removed). */
    public static final class HashMismatch extends PullException {
        public HashMismatch(String message) { super(message); }
    }
}
