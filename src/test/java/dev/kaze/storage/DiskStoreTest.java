package dev.kaze.storage;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class DiskStoreTest extends FileStoreContract {
    @Override FileStore store() {
        try {
            return new DiskStore(Files.createTempDirectory(tmp, "store"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test void keysAreFilesUnderTheRootAndEmptyDirectoriesGoWithDeleteAll() throws IOException {
        Path root = tmp.resolve("data");
        DiskStore s = new DiskStore(root);
        s.put("jobs/j1/video.mp4", "v".getBytes(StandardCharsets.UTF_8));
        assertThat(root.resolve("jobs/j1/video.mp4")).hasContent("v");
        assertThat(s.localFile("jobs/j1/video.mp4")).contains(root.resolve("jobs/j1/video.mp4"));
        assertThat(s.localFile("jobs/j1/none")).isEmpty();
        s.deleteAll("jobs/j1/");
        assertThat(root.resolve("jobs/j1")).doesNotExist();
        assertThat(root.resolve("jobs")).exists();
    }

    @Test void temporaryFilesAreNeverListed() throws IOException {
        Path root = tmp.resolve("data");
        DiskStore s = new DiskStore(root);
        s.put("a/b", new byte[3]);
        Files.write(root.resolve("a/.put-123.tmp"), new byte[1]);   // a writer that died mid-copy
        assertThat(s.list("")).extracting(StoredFile::key).containsExactly("a/b");
    }
}
