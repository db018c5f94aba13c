package dev.kaze.docs;

import dev.kaze.json.Json;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * docs/configuration.md is the Markdown rendering of the {@code kaze.*} configuration metadata the
 * Spring Boot configuration processor writes from {@code KazeProperties} (its record components' Javadoc
 * are the descriptions). The test fails when the file differs from a fresh rendering, so the reference
 * cannot drift from the code; {@code -Dkaze.docs.write=true} rewrites it.
 */
class ConfigurationReferenceTest {
    static final Path DOC = Path.of("docs/configuration.md");
    static final String REGENERATE = "./mvnw test -Dtest=ConfigurationReferenceTest -Dkaze.docs.write=true";

    record Property(String name, String type, String defaultValue, String description) {}

    @Test
    void configurationReferenceMatchesTheMetadata() throws IOException {
        List<Property> properties = properties();
        String rendered = render(properties);
        if (Boolean.getBoolean("kaze.docs.write")) {
            Files.createDirectories(DOC.getParent());
            Files.writeString(DOC, rendered, StandardCharsets.UTF_8);
        }
        String onDisk = Files.exists(DOC) ? Files.readString(DOC, StandardCharsets.UTF_8) : "";
        if (!onDisk.equals(rendered))
            fail(DOC + " is not the rendering of the configuration metadata (KazeProperties changed?). Regenerate it with\n  "
                    + REGENERATE + "\nand commit the result.");
    }

    @Test
    void everyKazePropertyHasADescription() throws IOException {
        List<String> bare = properties().stream().filter(p -> p.description().isBlank()).map(Property::name).toList();
        assertThat(bare).as("properties without a description: add an @param to their record in KazeProperties").isEmpty();
    }

    @Test
    void environmentVariableSpellingFollowsSpringsRelaxedBinding() {
        assertThat(envVar("kaze.device-memory-budget")).isEqualTo("KAZE_DEVICEMEMORYBUDGET");
        assertThat(envVar("kaze.dit.blocks-to-swap")).isEqualTo("KAZE_DIT_BLOCKSTOSWAP");
        assertThat(envVarCell("kaze.auth.keys", "java.util.List<dev.kaze.config.KazeProperties$ApiKey>"))
                .isEqualTo("`KAZE_AUTH_KEYS_0_ID`, `KAZE_AUTH_KEYS_0_SHA256`, …");
        assertThat(envVarCell("kaze.cors.allowed-origins", "java.util.List<java.lang.String>"))
                .isEqualTo("`KAZE_CORS_ALLOWEDORIGINS` (comma-separated)");
    }

    static List<Property> properties() throws IOException {
        JsonNode root;
        try (InputStream in = ConfigurationReferenceTest.class.getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            if (in == null) fail("META-INF/spring-configuration-metadata.json is not on the class path: the configuration "
                    + "processor (maven-compiler-plugin annotationProcessorPaths in pom.xml) did not run");
            root = Json.MAPPER.readTree(in);
        }
        List<Property> out = new ArrayList<>();
        for (JsonNode p : root.get("properties")) {
            String name = p.get("name").asString();
            if (!name.startsWith("kaze.")) continue;
            JsonNode d = p.get("defaultValue");
            out.add(new Property(name, p.get("type").asString(), d == null || d.isNull() ? "" : d.asString(),
                    p.has("description") ? p.get("description").asString() : ""));
        }
        // the top-level kaze.* settings first, then one table per nested record
        out.sort(Comparator.comparing((Property p) -> groupOf(p.name()).equals("kaze") ? "" : groupOf(p.name()))
                .thenComparing(Property::name));
        return out;
    }

    static String render(List<Property> properties) {
        StringBuilder b = new StringBuilder();
        b.append("""
                # Configuration reference

                <!-- GENERATED from target/classes/META-INF/spring-configuration-metadata.json (KazeProperties and its
                     records' Javadoc) by ConfigurationReferenceTest. Do not edit: change the Javadoc, then run
                     %s -->

                Every `kaze.*` setting, as a property (`application.yml`, `--kaze.x=…` on the command line,
                `-Dkaze.x=…`) or as an environment variable (Spring's relaxed binding: upper case, `.` → `_`,
                `-` dropped, list indexes as `_N_`). Sizes take `KB`/`MB`/`GB` (`DataSize`), durations `10s`, `30m`.
                The Spring settings Kaze relies on (`spring.datasource.*`, `server.port`, `kaze.jobs.worker-timeout`)
                are in [deploy.md](deploy.md#settings-outside-kaze).

                """.formatted(REGENERATE));
        String group = null;
        for (Property p : properties) {
            String g = groupOf(p.name());
            if (!g.equals(group)) {
                group = g;
                b.append("## `").append(g).append("`\n\n");
                b.append("| property | type | default | environment variable | description |\n");
                b.append("|---|---|---|---|---|\n");
            }
            b.append("| `").append(p.name()).append("` | ").append("`").append(shortType(p.type())).append("` | ")
                    .append(p.defaultValue().isEmpty() ? "" : "`" + p.defaultValue() + "`").append(" | ")
                    .append(envVarCell(p.name(), p.type())).append(" | ").append(cell(markdown(p.description()))).append(" |\n");
            if (p.name().equals(lastOfGroup(properties, g))) b.append('\n');
        }
        return b.toString().stripTrailing() + "\n";
    }

    private static String lastOfGroup(List<Property> properties, String group) {
        return properties.stream().map(Property::name).filter(n -> groupOf(n).equals(group)).reduce((x, y) -> y).orElseThrow();
    }

    /** kaze.dit.storage -> kaze.dit; kaze.device -> kaze. */
    static String groupOf(String name) {
        String[] parts = name.split("\\.");
        return parts.length > 2 ? parts[0] + "." + parts[1] : parts[0];
    }

    /** Spring's relaxed binding: kaze.dit.blocks-to-swap -> KAZE_DIT_BLOCKSTOSWAP. */
    static String envVar(String name) { return name.replace("-", "").replace('.', '_').toUpperCase(Locale.ROOT); }

    static String envVarCell(String name, String type) {
        String base = envVar(name);
        if (type.equals("java.util.List<java.lang.String>")) return "`" + base + "` (comma-separated)";
        if (type.startsWith("java.util.List<")) return "`" + base + "_0_ID`, `" + base + "_0_SHA256`, …";
        return "`" + base + "`";
    }

    static String shortType(String type) {
        return type.replaceAll("[a-z][a-z0-9]*\\.", "").replace("KazeProperties$", "").replace("Integer", "int")
                .replace("Boolean", "boolean");
    }

    private static final Pattern CODE = Pattern.compile("\\{@code ([^}]*)}");

    /** {@code x} -> `x`. */
    static String markdown(String javadoc) {
        Matcher m = CODE.matcher(javadoc);
        StringBuilder b = new StringBuilder();
        while (m.find()) m.appendReplacement(b, Matcher.quoteReplacement("`" + m.group(1) + "`"));
        m.appendTail(b);
        return b.toString().replaceAll("\\s+", " ").strip();
    }

    /** A table cell: | escaped; &lt; and &gt; escaped outside code spans, where Markdown would read them as HTML. */
    static String cell(String text) {
        String[] parts = text.replace("|", "\\|").split("`", -1);
        for (int i = 0; i < parts.length; i += 2) parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;");
        return String.join("`", parts);
    }
}
