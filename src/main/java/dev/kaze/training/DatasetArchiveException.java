package dev.kaze.training;

/**
 * A dataset archive that was refused or could not be extracted; nothing of it is left on disk. The message names the
 * archive and, where one is to blame, the entry.
 */
public final class DatasetArchiveException extends RuntimeException {
    private final String entry;

    public DatasetArchiveException(String entry, String message) {
        this(entry, message, null);
    }

    public DatasetArchiveException(String entry, String message, Throwable cause) {
        super(message, cause);
        this.entry = entry;
    }

    /** The entry name as stored in the archive, or null when the archive as a whole is at fault. */
    public String entry() {
        return entry;
    }
}
