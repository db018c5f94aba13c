package dev.kaze;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Keeps the layering of ARCHITECTURE.md: pipeline, training, video and tensor are plain Java
 * (no Spring), and nothing below api depends on api or jobs.
 */
class StructureTest {
    static final Path MAIN = Path.of("src/main/java/dev/kaze");

    static List<Path> sources(String pkg) throws IOException {
        Path dir = MAIN.resolve(pkg);
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(".java")).toList();
        }
    }

    @Test
    void modelLayersCarryNoSpringAndDoNotReachUp() throws IOException {
        for (String pkg : List.of("pipeline", "training", "video", "tensor")) {
            for (Path file : sources(pkg)) {
                String src = Files.readString(file);
                assertThat(src).as(file + " must not use Spring").doesNotContain("org.springframework");
                assertThat(src).as(file + " must not depend on api/jobs/config")
                        .doesNotContain("import dev.kaze.api.").doesNotContain("import dev.kaze.jobs.")
                        .doesNotContain("import dev.kaze.config.");
            }
        }
        assertThat(sources("tensor")).isNotEmpty();
    }

    @Test
    void tensorDependsOnNothingAboveIt() throws IOException {
        for (Path file : sources("tensor")) {
            assertThat(Files.readString(file)).as(file.toString())
                    .doesNotContain("import dev.kaze.pipeline.").doesNotContain("import dev.kaze.training.");
        }
    }
}
