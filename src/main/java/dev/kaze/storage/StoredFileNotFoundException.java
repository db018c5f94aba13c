package dev.kaze.storage;

/** A key a reader asked for is not in the store. */
public final class StoredFileNotFoundException extends RuntimeException {
    private final String key;

    public StoredFileNotFoundException(String key, String where) {
        super("no file '" + key + "' in " + where);
        this.key = key;
    }

    public String key() { return key; }
}
