package dev.kaze.docs;

import dev.kaze.training.TestDatasets;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the commands README.md and the guides in docs/ show, against the real server on the preview
 * model, so the docs cannot rot. The conventions (docs/README.md § "How the docs are tested" says the same):
 * <ul>
 *   <li>A fenced block whose info string is {@code sh}, {@code js}, {@code python} or {@code java} is run:
 *       {@code sh} with {@code bash -euo pipefail}, {@code js} as an ES module with node, {@code python} with
 *       python3, {@code java} as a single-file source program ({@code java Example.java}) with the test class
 *       path (it holds the OpenAI Java SDK). Blocks of one file run in order, in one working directory
 *       ({@code target/docs-run/<file>}), each with a 120 s limit; each must exit 0.</li>
 *   <li>{@code norun} after the language ({@code ```sh norun}) shows a block without running it: GPU-only
 *       commands, downloads from Hugging Face, the Python SDK (no PyPI here), browser code.</li>
 *   <li>{@code <!-- expect: TEXT -->} on the line after a block: its output must contain TEXT.</li>
 *   <li>Substitutions before running: {@code localhost:8080} becomes the test server's address;
 *       {@code <video-id>} / {@code <training-id>} become the first {@code "id":"video_…"} /
 *       {@code "id":"train_…"} in the output of the latest earlier block of the same file that printed
 *       one; {@code java -jar kaze.jar} runs {@code dev.kaze.KazeApplication} from the test class path
 *       (the jar is packaged after the tests). {@code KAZE_API_KEY} is set to a key the server knows, and
 *       a tiny musubi dataset is put at {@code my-dataset/} in training.md's working directory.</li>
 * </ul>
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:docs;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=" + DocsCommandsTest.DATA,
        "kaze.models.loras=" + DocsCommandsTest.DATA + "/loras",
        "kaze.training.datasets-root=" + DocsCommandsTest.DATA + "/datasets",
        "kaze.auth.anonymous=true",
        "kaze.auth.keys[0].id=docs", "kaze.auth.keys[0].key=" + DocsCommandsTest.API_KEY,
        "kaze.webhooks.secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
})
class DocsCommandsTest {
    static final String DATA = "target/test-data/docs";
    static final String API_KEY = "sk-kaze-docs-example";
    static final List<String> FILES = List.of("README.md", "docs/api.md", "docs/models.md", "docs/training.md", "docs/deploy.md");
    static final Path RUN = Path.of("target/docs-run");
    static final Path JS = Path.of("target/docs-js");

    static {
        // the docs create LoRAs by name and list jobs: each run starts from an empty data directory
        try {
            deleteTree(Path.of(DATA));
        } catch (IOException e) {
            throw new IllegalStateException("cannot empty " + DATA, e);
        }
    }

    @LocalServerPort int port;

    /** One fenced block: its language, whether it runs, its text, the outputs it must contain, where it starts. */
    record Block(String file, int line, String language, boolean run, String text, List<String> expect) {
        String name() { return file + ":" + line + " (" + language + ")"; }
    }

    private static final Pattern FENCE = Pattern.compile("^```\\s*([A-Za-z0-9_+-]*)(.*)$");
    private static final Pattern EXPECT = Pattern.compile("^<!--\\s*expect:\\s*(.*?)\\s*-->\\s*$");
    static final List<String> RUNNABLE = List.of("sh", "js", "python", "java");

    /** The fenced blocks of a Markdown text, with their {@code <!-- expect: … -->} lines. */
    static List<Block> blocks(String file, String markdown) {
        List<Block> out = new ArrayList<>();
        String[] lines = markdown.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            Matcher open = FENCE.matcher(lines[i]);
            if (!open.matches()) continue;
            int start = i;
            StringBuilder text = new StringBuilder();
            for (i++; i < lines.length && !lines[i].startsWith("```"); i++) text.append(lines[i]).append('\n');
            if (i >= lines.length) throw new AssertionError(file + ":" + (start + 1) + ": a fenced block is not closed");
            List<String> expect = new ArrayList<>();
            for (int j = i + 1; j < lines.length; j++) {
                Matcher e = EXPECT.matcher(lines[j]);
                if (!e.matches()) break;
                expect.add(e.group(1));
            }
            String language = open.group(1);
            boolean norun = List.of(open.group(2).strip().split("\\s+")).contains("norun");
            out.add(new Block(file, start + 1, language, RUNNABLE.contains(language) && !norun, text.toString(), expect));
        }
        return out;
    }

    @TestFactory
    Stream<DynamicTest> docsCommandsRun() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String file : FILES) {
            Path doc = Path.of(file);
            assertThat(doc).as(file + " is listed in DocsCommandsTest.FILES").exists();
            List<Block> runnable = blocks(file, Files.readString(doc)).stream().filter(Block::run).toList();
            Path dir = RUN.resolve(doc.getFileName().toString().replace(".md", ""));
            Map<String, String> ids = new HashMap<>();
            tests.add(DynamicTest.dynamicTest(file + ": prepare", () -> prepare(file, dir)));
            for (Block b : runnable) tests.add(DynamicTest.dynamicTest(b.name(), () -> run(b, dir, ids)));
        }
        return tests.stream();
    }

    static final List<String> TOOLS = List.of("bash", "curl", "zip", "node", "npm", "python3");

    /** The programs the blocks run, each found on the PATH, else one message naming what to install. */
    private static void checkTools() {
        List<String> missing = TOOLS.stream().filter(t -> Stream.of(System.getenv().getOrDefault("PATH", "").split(":"))
                .noneMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, t)))).toList();
        if (!missing.isEmpty())
            fail("the docs test runs the docs' commands and needs " + missing + " on the PATH; install them "
                    + "(Debian: apt-get install curl zip nodejs npm python3)");
    }

    private static void prepare(String file, Path dir) throws IOException {
        checkTools();
        deleteTree(dir);
        Files.createDirectories(dir);
        if (file.equals("docs/training.md")) TestDatasets.write(dir.resolve("my-dataset"), true);
    }

    /** An id in a command's output: video_… for videos, train_… for trainings. */
    private static final Pattern ID = Pattern.compile("\"id\"\\s*:\\s*\"((video|train)_[A-Za-z0-9_-]+)\"");

    private void run(Block b, Path dir, Map<String, String> ids) throws Exception {
        String text = substitute(b.text(), ids);
        List<String> command = new ArrayList<>();
        Path script;
        switch (b.language()) {
            case "sh" -> {
                script = dir.resolve("block-" + b.line() + ".sh");
                command.addAll(List.of("bash", "-euo", "pipefail", script.toAbsolutePath().toString()));
            }
            case "js" -> {
                // beside target/docs-js/node_modules, so `import OpenAI from 'openai'` resolves
                if (text.contains("from 'openai'") || text.contains("from \"openai\"")) installOpenAiNpm();
                Files.createDirectories(JS);
                script = JS.resolve(dir.getFileName() + "-" + b.line() + ".mjs");
                command.addAll(List.of("node", script.toAbsolutePath().toString()));
            }
            case "python" -> {
                script = dir.resolve("block-" + b.line() + ".py");
                command.addAll(List.of("python3", script.toAbsolutePath().toString()));
            }
            case "java" -> {
                Matcher cls = Pattern.compile("(?m)^(?:public\\s+)?(?:final\\s+)?class\\s+(\\w+)").matcher(text);
                if (!cls.find()) throw new AssertionError(b.name() + ": a java block must declare a class");
                Path src = dir.resolve("java-" + b.line());
                Files.createDirectories(src);
                script = src.resolve(cls.group(1) + ".java");
                command.addAll(List.of(javaBin(), "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                        script.toAbsolutePath().toString()));
            }
            default -> throw new AssertionError(b.language());
        }
        Files.writeString(script, text);
        Result r = exec(command, dir, 120);
        String where = b.name() + "\n--- ran ---\n" + text + "--- output ---\n" + r.output();
        if (r.exit() != 0) fail(where + "\n--- exit status " + r.exit() + " (must be 0)");
        for (String e : b.expect()) assertThat(r.output()).as(where + "\n--- must contain: " + e).contains(e);
        Matcher m = ID.matcher(r.output());
        Map<String, String> firsts = new HashMap<>();
        while (m.find()) firsts.putIfAbsent(m.group(2).equals("train") ? "training" : "video", m.group(1));
        ids.putAll(firsts);
    }

    /** localhost:8080 → the test server, &lt;video-id&gt;/&lt;training-id&gt; → ids printed earlier, java -jar kaze.jar → the test class path. */
    String substitute(String text, Map<String, String> ids) {
        String t = text.replace("localhost:8080", "localhost:" + port);
        for (String kind : List.of("video", "training")) {
            String placeholder = "<" + kind + "-id>";
            if (!t.contains(placeholder)) continue;
            String id = ids.get(kind);
            if (id == null) throw new AssertionError(placeholder + " is used before any earlier block printed a " + kind + " id");
            t = t.replace(placeholder, id);
        }
        return t.replace("java -jar kaze.jar", "'" + javaBin() + "' --enable-native-access=ALL-UNNAMED -cp '"
                + System.getProperty("java.class.path") + "' dev.kaze.KazeApplication");
    }

    record Result(int exit, String output) {}

    private static Result exec(List<String> command, Path dir, int seconds) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().put("KAZE_API_KEY", API_KEY);
        pb.environment().put("KAZE_MODELS_ROOT", dir.resolve("models").toAbsolutePath().toString());
        pb.environment().remove("HF_TOKEN");
        Path log = Files.createTempFile(dir, "out", ".log");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            return new Result(-1, Files.readString(log, StandardCharsets.UTF_8) + "\n[timed out after " + seconds + " s]");
        }
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    private static String javaBin() { return Path.of(System.getProperty("java.home"), "bin", "java").toString(); }

    /** The openai npm package into target/docs-js (once; CI reaches the npm registry). */
    private static synchronized void installOpenAiNpm() throws IOException, InterruptedException {
        if (Files.isDirectory(JS.resolve("node_modules/openai"))) return;
        Files.createDirectories(JS);
        Files.writeString(JS.resolve("package.json"), "{\"private\":true,\"type\":\"module\"}\n");
        Result r = exec(List.of("npm", "install", "--no-audit", "--no-fund", "--prefix", JS.toAbsolutePath().toString(), "openai@7"),
                JS, 300);
        if (r.exit() != 0) fail("npm install openai into " + JS + " failed (the JavaScript SDK examples need the npm registry):\n" + r.output());
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) Files.delete(p);
        }
    }
}
