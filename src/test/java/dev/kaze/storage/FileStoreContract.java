package dev.kaze.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What every {@link FileStore} does; run against a local directory and against a real S3 server. */
abstract class FileStoreContract {
    @TempDir Path tmp;

    /** A fresh, empty store. */
    abstract FileStore store();

    private Path file(String name, String text) throws IOException {
        return Files.writeString(tmp.resolve(name), text);
    }

    private static String read(InputStream in) throws IOException {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test void putThenStatAndReadBack() throws IOException {
        FileStore s = store();
        s.put("jobs/a/video.mp4", file("v", "0123456789"));
        StoredFile f = s.stat("jobs/a/video.mp4").orElseThrow();
        assertThat(f.size()).isEqualTo(10);
        assertThat(f.name()).isEqualTo("video.mp4");
        assertThat(read(s.open("jobs/a/video.mp4"))).isEqualTo("0123456789");
        s.put("jobs/a/video.mp4", "replaced".getBytes(StandardCharsets.UTF_8));
        assertThat(read(s.open("jobs/a/video.mp4"))).isEqualTo("replaced");
        assertThat(s.stat("jobs/a/video.mp4").orElseThrow().size()).isEqualTo(8);
    }

    @Test void readsARange() throws IOException {
        FileStore s = store();
        s.put("f.bin", "0123456789".getBytes(StandardCharsets.UTF_8));
        assertThat(read(s.open("f.bin", 3, 4))).isEqualTo("3456");
        assertThat(read(s.open("f.bin", 9, 1))).isEqualTo("9");
        assertThat(read(s.open("f.bin", 0, 0))).isEmpty();
    }

    @Test void aMissingKeyIsEmptyOrNotFound() {
        FileStore s = store();
        assertThat(s.stat("nope/x")).isEmpty();
        assertThatThrownBy(() -> s.open("nope/x").close()).isInstanceOf(StoredFileNotFoundException.class).hasMessageContaining("nope/x");
        assertThatThrownBy(() -> s.download("nope/x", tmp.resolve("d"))).isInstanceOf(StoredFileNotFoundException.class);
        assertThat(tmp.resolve("d")).doesNotExist();
        s.delete("nope/x");   // nothing to do
    }

    @Test void putIfAbsentNeverReplaces() throws IOException {
        FileStore s = store();
        assertThat(s.putIfAbsent("loras/a.safetensors", file("one", "first"))).isTrue();
        assertThat(s.putIfAbsent("loras/a.safetensors", file("two", "second"))).isFalse();
        assertThat(read(s.open("loras/a.safetensors"))).isEqualTo("first");
    }

    @Test void listsByPrefixSorted() throws IOException {
        FileStore s = store();
        for (String k : List.of("jobs/b/x", "jobs/a/y", "jobs/a/sub/z", "jobs/ab/w", "other")) s.put(k, k.getBytes(StandardCharsets.UTF_8));
        assertThat(s.list("jobs/a/")).extracting(StoredFile::key).containsExactly("jobs/a/sub/z", "jobs/a/y");
        assertThat(s.list("jobs/a")).extracting(StoredFile::key).containsExactly("jobs/a/sub/z", "jobs/a/y", "jobs/ab/w");
        assertThat(s.list("")).extracting(StoredFile::key).containsExactly("jobs/a/sub/z", "jobs/a/y", "jobs/ab/w", "jobs/b/x", "other");
        assertThat(s.list("none/")).isEmpty();
        assertThat(s.list("jobs/b/").getFirst().size()).isEqualTo("jobs/b/x".length());
    }

    @Test void deleteAllRemovesOnlyUnderThePrefix() throws IOException {
        FileStore s = store();
        for (String k : List.of("jobs/a/y", "jobs/a/sub/z", "jobs/ab/w")) s.put(k, k.getBytes(StandardCharsets.UTF_8));
        s.deleteAll("jobs/a/");
        assertThat(s.list("")).extracting(StoredFile::key).containsExactly("jobs/ab/w");
        s.delete("jobs/ab/w");
        assertThat(s.list("")).isEmpty();
    }

    @Test void withinPrefixesItsKeys() throws IOException {
        FileStore s = store();
        FileStore loras = s.within("loras");
        loras.put("ghibli.safetensors", "w".getBytes(StandardCharsets.UTF_8));
        assertThat(s.stat("loras/ghibli.safetensors")).isPresent();
        assertThat(loras.list("")).extracting(StoredFile::key).containsExactly("ghibli.safetensors");
        assertThat(loras.within("x").describe()).contains("loras").contains("x");
    }

    @Test void downloadsToAFile() throws IOException {
        FileStore s = store();
        s.put("d/e.txt", "payload".getBytes(StandardCharsets.UTF_8));
        Path target = tmp.resolve("cache/sub/e.txt");
        s.download("d/e.txt", target);
        assertThat(target).hasContent("payload");
        s.put("d/e.txt", "newer".getBytes(StandardCharsets.UTF_8));
        s.download("d/e.txt", target);
        assertThat(target).hasContent("newer");
        assertThat(Files.list(target.getParent()).toList()).containsExactly(target);   // no temporary file left
    }

    @Test void refusesKeysThatEscape() {
        FileStore s = store();
        for (String bad : List.of("../x", "/abs", "a//b", "a/./b", "a/../../b", "a\\b", "a/", "", "x\ny"))
            assertThatThrownBy(() -> s.put(bad, new byte[1])).as(bad).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.list("../")).isInstanceOf(IllegalArgumentException.class);
    }
}
