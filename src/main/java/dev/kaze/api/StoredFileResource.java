package dev.kaze.api;

import dev.kaze.storage.FileStore;
import dev.kaze.storage.StoredFile;
import org.springframework.core.io.AbstractResource;

import java.io.InputStream;

/** A file in the {@link FileStore} as a response body: its length and time from the store, its bytes read when sent. */
final class StoredFileResource extends AbstractResource {
    private final FileStore files;
    private final StoredFile file;

    StoredFileResource(FileStore files, StoredFile file) {
        this.files = files;
        this.file = file;
    }

    @Override public InputStream getInputStream() { return files.open(file.key()); }

    @Override public boolean exists() { return true; }

    @Override public long contentLength() { return file.size(); }

    @Override public long lastModified() { return file.lastModified().toEpochMilli(); }

    @Override public String getFilename() { return file.name(); }

    @Override public String getDescription() { return "stored file '" + file.key() + "'"; }

    @Override public boolean equals(Object o) {
        return o instanceof StoredFileResource r && r.files.equals(files) && r.file.equals(file);
    }

    @Override public int hashCode() { return file.hashCode(); }
}
