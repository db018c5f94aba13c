package dev.kaze.docs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** How DocsCommandsTest reads the Markdown, and the README's two commands. */
class DocsBlocksTest {
    @Test
    void fencedBlocksWithTheirLanguageNorunAndExpectations() {
        String md = """
                text
                ```sh
                curl -s localhost:8080/x
                ```
                <!-- expect: "a":1 -->
                <!--expect:second-->
                between
                ```sh norun
                ./mvnw verify
                ```
                ```json
                {"a":1}
                ```
                ```js
                console.log(1)
                ```

                <!-- expect: not attached: a blank line came first -->
                """;
        List<DocsCommandsTest.Block> blocks = DocsCommandsTest.blocks("x.md", md);
        assertThat(blocks).extracting(DocsCommandsTest.Block::language).containsExactly("sh", "sh", "json", "js");
        assertThat(blocks).extracting(DocsCommandsTest.Block::run).containsExactly(true, false, false, true);
        assertThat(blocks.getFirst().text()).isEqualTo("curl -s localhost:8080/x\n");
        assertThat(blocks.getFirst().expect()).containsExactly("\"a\":1", "second");
        assertThat(blocks.getFirst().line()).isEqualTo(2);
        assertThat(blocks.get(3).expect()).isEmpty();
    }

    @Test
    void anUnclosedBlockIsAnError() {
        assertThatThrownBy(() -> DocsCommandsTest.blocks("x.md", "```sh\necho hi\n"))
                .hasMessageContaining("x.md:1").hasMessageContaining("not closed");
    }

    @Test
    void everyTestedPageHasRunnableBlocks() throws IOException {
        for (String file : DocsCommandsTest.FILES)
            assertThat(DocsCommandsTest.blocks(file, Files.readString(Path.of(file))).stream().filter(DocsCommandsTest.Block::run))
                    .as(file + " shows commands the docs test runs").isNotEmpty();
    }

    @Test
    void readmeShowsTheTwoCommandsAndCiRunsTheTestOne() throws IOException {
        List<String> shown = DocsCommandsTest.blocks("README.md", Files.readString(Path.of("README.md"))).stream()
                .map(b -> b.text().strip()).toList();
        assertThat(shown).contains("./mvnw spring-boot:run", "./mvnw verify");
        assertThat(Files.readString(Path.of(".ci/run"))).containsPattern("(?m)^\\./mvnw .*\\bverify\\b");
    }
}
