package dev.kaze.training;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Dataset configs confined to the datasets root: plain escapes, links that point out, caches not made yet, JSONL media. */
class DatasetPathsTest {
    @TempDir
    Path tmp;
    Path root;
    Path ds;
    Path outside;

    @BeforeEach
    void dirs() throws IOException {
        root = Files.createDirectories(tmp.resolve("datasets"));
        ds = Files.createDirectories(root.resolve("ds1"));
        Files.createDirectories(ds.resolve("images"));
        outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("secret.txt"), "not yours");
    }

    private DatasetConfig config(String datasetTable) throws IOException {
        Path file = ds.resolve("dataset.toml");
        Files.writeString(file, "[general]\ncaption_extension = \".txt\"\n[[datasets]]\nimage_directory = \"images\"\n"
                + "cache_directory = \"cache0\"\n[[datasets]]\n" + datasetTable);
        return DatasetConfigReader.read(file);
    }

    private void assertEscape(DatasetConfig config, String key, String... parts) {
        assertThatThrownBy(() -> DatasetPaths.confine(config, root))
                .isInstanceOfSatisfying(DatasetConfigException.class, e -> {
                    org.assertj.core.api.Assertions.assertThat(e.datasetIndex()).isEqualTo(1);
                    org.assertj.core.api.Assertions.assertThat(e.key()).isEqualTo(key);
                })
                .message().contains("datasets[1]", key).contains(parts.length == 0 ? new String[]{"outside"} : parts);
    }

    @Test
    void pathsInsideTheRootPassEvenBeforeTheCacheExists() throws IOException {
        Files.createDirectories(ds.resolve("videos"));
        assertThatCode(() -> DatasetPaths.confine(config("video_directory = \"videos\"\ncache_directory = \"cache/v/deep\"\n"), root))
                .doesNotThrowAnyException();
    }

    @Test
    void dotDotAndAbsolutePathsOutsideAreRefused() throws IOException {
        assertEscape(config("image_directory = \"../../outside\"\ncache_directory = \"c1\"\n"), "image_directory", "outside the datasets root");
        assertEscape(config("video_directory = \"" + outside + "\"\ncache_directory = \"c1\"\n"), "video_directory");
        assertEscape(config("image_directory = \"images2\"\ncache_directory = \"" + outside.resolve("cache") + "\"\n"), "cache_directory");
    }

    @Test
    void linksPointingOutAreCaught() throws IOException {
        Files.createSymbolicLink(ds.resolve("linked"), outside);
        assertEscape(config("image_directory = \"linked\"\ncache_directory = \"c1\"\n"), "image_directory", "a link to");
        // a cache directory that does not exist yet, under a link that points out
        assertEscape(config("image_directory = \"images2\"\ncache_directory = \"linked/cache/new\"\n"), "cache_directory");
        // a dangling link
        Files.createSymbolicLink(ds.resolve("dangling"), tmp.resolve("nowhere"));
        assertEscape(config("image_directory = \"images2\"\ncache_directory = \"dangling/c\"\n"), "cache_directory");
    }

    @Test
    void aLinkedFileInsideAMediaDirectoryIsCaught() throws IOException {
        Path images2 = Files.createDirectories(ds.resolve("images2"));
        Files.createSymbolicLink(images2.resolve("a.txt"), outside.resolve("secret.txt"));
        assertEscape(config("image_directory = \"images2\"\n"), "image_directory", "a.txt", "symbolic link");
        // a link that stays inside is fine
        Files.delete(images2.resolve("a.txt"));
        Files.createSymbolicLink(images2.resolve("a.txt"), ds.resolve("dataset.toml"));
        assertThatCode(() -> DatasetPaths.confine(config("image_directory = \"images2\"\n"), root)).doesNotThrowAnyException();
    }

    @Test
    void jsonlMediaOutsideAreCaught() throws IOException {
        Files.writeString(ds.resolve("list.jsonl"), "{\"image_path\": \"images/a.png\", \"caption\": \"a\"}\n"
                + "{\"image_path\": \"../../outside/secret.png\", \"caption\": \"b\"}\n");
        assertEscape(config("image_jsonl_file = \"list.jsonl\"\ncache_directory = \"c1\"\n"), "image_jsonl_file", "secret.png");
    }

    @Test
    void aConfigOutsideTheRootIsRefused() throws IOException {
        Path file = outside.resolve("dataset.toml");
        Files.writeString(file, "[[datasets]]\nimage_directory = \"" + ds.resolve("images") + "\"\n");
        assertThatThrownBy(() -> DatasetPaths.confine(DatasetConfigReader.read(file), root))
                .isInstanceOf(DatasetConfigException.class).hasMessageContaining("outside the datasets root");
    }
}
