package dev.kaze.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The served model's identity for usage records: the verified pull's SHA-256, else names, sizes and times. */
class ModelIdentityTest {
    /** Writes the {@code .kaze/<name>.verified} record the way {@code kaze models pull} does (models.Sidecar). */
    static void markVerified(Path file, String sha256) throws Exception {
        Method write = Class.forName("dev.kaze.models.Sidecar").getDeclaredMethod("write", Path.class, String.class, String.class);
        write.setAccessible(true);
        Files.createDirectories(file.getParent().resolve(".kaze"));
        write.invoke(null, file, "sha256", sha256);
    }

    @Test
    void filesIdentityIsStableAndChangesWhenAFileIsReplaced(@TempDir Path dir) throws Exception {
        Path dit = Files.write(dir.resolve("dit.safetensors"), new byte[100]);
        Path vae = Files.write(dir.resolve("vae.safetensors"), new byte[10]);
        Files.setLastModifiedTime(dit, FileTime.fromMillis(1_700_000_000_000L));
        List<Path> files = Arrays.asList(dit, null, vae);
        String a = ModelIdentity.of("wan2.1-t2v-14b", files);
        assertThat(a).matches("wan2\\.1-t2v-14b@files:[0-9a-f]{16}").isEqualTo(ModelIdentity.of("wan2.1-t2v-14b", files));
        Files.setLastModifiedTime(dit, FileTime.fromMillis(1_700_000_001_000L));
        assertThat(ModelIdentity.of("wan2.1-t2v-14b", files)).isNotEqualTo(a);
        assertThat(ModelIdentity.of("kaze-preview", List.of())).isEqualTo("kaze-preview");
    }

    @Test
    void aVerifiedPullGivesTheHubsSha256WhileItStillDescribesTheFile(@TempDir Path dir) throws Exception {
        Path dit = Files.write(dir.resolve("dit.safetensors"), new byte[100]);
        String sha = "0123456789abcdef".repeat(4);
        markVerified(dit, sha);
        assertThat(ModelIdentity.of("wan", List.of(dit))).isEqualTo("wan@sha256:" + sha);
        Files.write(dit, new byte[101]); // replaced since: the record no longer holds
        assertThat(ModelIdentity.of("wan", List.of(dit))).startsWith("wan@files:");
    }
}
