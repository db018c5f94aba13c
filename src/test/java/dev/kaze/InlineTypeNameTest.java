package dev.kaze;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Main sources name types through imports: a fully qualified type name in code ({@code
 * java.time.Instant}, {@code dev.kaze.tensor.Checkpoint}) is written as an import and the simple
 * name. Comments and string literals are not code; a qualified name counts when it names a class on
 * the class path. Where two types share a simple name in one file, one may stay qualified, listed
 * in {@link #CLASHES} with the reason (renaming one of them is better).
 */
class InlineTypeNameTest {
    static final Path MAIN = Path.of("src/main/java");

    /** A dotted chain of three or more names starting lower-case, not preceded by a name or a dot. */
    static final Pattern CHAIN = Pattern.compile("(?<![\\w.$])[a-z_][\\w$]*(?:\\.[A-Za-z_$][\\w$]*){2,}");

    /** "file (relative to src/main/java) qualified.Name" → why the simple name cannot be imported. */
    static final Map<String, String> CLASHES = Map.of();

    @Test
    void mainSourcesImportTheTypesTheyUse() throws IOException {
        List<String> offenders = new ArrayList<>();
        Set<String> clashesSeen = new HashSet<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                String relative = MAIN.relativize(file).toString().replace('\\', '/');
                String[] lines = code(Files.readString(file)).split("\n", -1);
                for (int i = 0; i < lines.length; i++) {
                    String line = lines[i].strip();
                    if (line.startsWith("import ") || line.startsWith("package ")) continue;
                    Matcher m = CHAIN.matcher(lines[i]);
                    while (m.find()) {
                        String name = qualifiedType(m.group());
                        if (name == null) continue;
                        if (CLASHES.containsKey(relative + " " + name)) {
                            clashesSeen.add(relative + " " + name);
                            continue;
                        }
                        offenders.add(relative + ":" + (i + 1) + ": " + name);
                    }
                }
            }
        }
        assertThat(offenders)
                .withFailMessage("%d inline qualified type names; import them instead:%n%s",
                        offenders.size(), String.join("\n", offenders))
                .isEmpty();
        assertThat(clashesSeen).as("entries in CLASHES that no longer occur").isEqualTo(CLASHES.keySet());
    }

    @Test
    void findsQualifiedNamesInCodeOnly() {
        String source = """
                import java.util.List;
                /** See {@link java.time.Instant}. */
                class A { // java.time.Duration
                    String s = "java.time.Clock" + 'x';
                    String t = \"""
                        java.time.Year
                        \""";
                    java.util.concurrent.TimeUnit u = java.util.concurrent.TimeUnit.SECONDS;
                    int n = this.size.MAX;
                    java.util.Map.Entry<String, String> e = null;
                    Object o = org.bytedeco.pytorch.global.torch.class;
                }
                """;
        List<String> found = new ArrayList<>();
        String[] lines = code(source).split("\n", -1);
        assertThat(lines).hasSize(source.split("\n", -1).length);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].strip().startsWith("import ")) continue;
            Matcher m = CHAIN.matcher(lines[i]);
            while (m.find()) {
                String name = qualifiedType(m.group());
                if (name != null) found.add((i + 1) + ":" + name);
            }
        }
        assertThat(found).containsExactly("8:java.util.concurrent.TimeUnit", "8:java.util.concurrent.TimeUnit",
                "10:java.util.Map", "11:org.bytedeco.pytorch.global.torch");
    }

    /**
     * The shortest prefix of a dotted chain, with at least one package segment besides the
     * top-level one, that names a class on the class path ({@code java.util.Map} of {@code
     * java.util.Map.Entry}, {@code org.bytedeco.pytorch.global.torch} of {@code ...torch.cat});
     * null for a chain of variables, fields and methods.
     */
    static String qualifiedType(String chain) {
        int dot = chain.indexOf('.', chain.indexOf('.') + 1);
        while (dot > 0) {
            int next = chain.indexOf('.', dot + 1);
            String prefix = next < 0 ? chain : chain.substring(0, next);
            try {
                Class.forName(prefix, false, InlineTypeNameTest.class.getClassLoader());
                return prefix;
            } catch (ClassNotFoundException | LinkageError e) {
                dot = next;
            }
        }
        return null;
    }

    /** The source with comments, string, text block and char literals blanked out; line breaks kept. */
    static String code(String source) {
        StringBuilder out = new StringBuilder(source.length());
        int i = 0;
        int n = source.length();
        while (i < n) {
            char c = source.charAt(i);
            if (source.startsWith("//", i)) {
                while (i < n && source.charAt(i) != '\n') i = blank(source, i, out);
            } else if (source.startsWith("/*", i)) {
                int end = source.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
                while (i < end) i = blank(source, i, out);
            } else if (source.startsWith("\"\"\"", i)) {
                int end = i + 3;
                while (end < n && !source.startsWith("\"\"\"", end)) end += source.charAt(end) == '\\' ? 2 : 1;
                end = Math.min(n, end + 3);
                while (i < end) i = blank(source, i, out);
            } else if (c == '"' || c == '\'') {
                int end = i + 1;
                while (end < n && source.charAt(end) != c && source.charAt(end) != '\n') {
                    end += source.charAt(end) == '\\' ? 2 : 1;
                }
                end = Math.min(n, end + 1);
                while (i < end) i = blank(source, i, out);
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    private static int blank(String source, int i, StringBuilder out) {
        out.append(source.charAt(i) == '\n' ? '\n' : ' ');
        return i + 1;
    }
}
