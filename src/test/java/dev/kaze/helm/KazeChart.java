package dev.kaze.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * helm/kaze run through real Helm (helm-java's native build of it): {@code helm template} and {@code helm lint}.
 * What it renders goes to target/helm/, never into the sources.
 */
final class KazeChart {
    static final Path CHART = Path.of("helm", "kaze");
    static final Path VALUES = Path.of("src", "test", "resources", "helm");
    static final Path OUT = Path.of("target", "helm");
    static final String RELEASE = "kz";
    static final String NAMESPACE = "video";
    /** a cluster version with policy/v1 and autoscaling/v2 (Helm's own default is older) */
    static final String KUBE_VERSION = "1.31.0";

    private KazeChart() {}

    /** {@code helm template kz helm/kaze -n video [-f values] [--set k=v …]}; the output saved as target/helm/{label}.yaml. */
    static String template(String label, Path valuesFile, Map<String, Object> sets) {
        return template(CHART, label, valuesFile, sets);
    }

    /**
     * The hooks as well: helm-java's template prints the release's manifest, which leaves hooks out (the CLI
     * prints them too). So this renders a copy of the chart whose {@code helm.sh/hook} annotation key is renamed
     * {@value #HOOK}: Helm then treats the hook objects as ordinary ones and prints them, with everything else
     * about them (weights, delete policies, content) as the real chart has it.
     */
    static String templateWithHooks(String label, Path valuesFile) {
        Path copy = OUT.resolve("hooks-" + label).resolve("kaze");
        try {
            copyTree(CHART, copy);
            try (Stream<Path> files = Files.list(copy.resolve("templates"))) {
                for (Path f : files.toList())
                    Files.writeString(f, Files.readString(f).replace("helm.sh/hook:", HOOK + ":"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return template(copy, label + "-with-hooks", valuesFile, Map.of());
    }

    /** The name {@link #templateWithHooks} gives the helm.sh/hook annotation. */
    static final String HOOK = "rendered.kaze.dev/helm.sh-hook";

    private static String template(Path chart, String label, Path valuesFile, Map<String, Object> sets) {
        TemplateCommand command = new Helm(chart).template().withName(RELEASE).withNamespace(NAMESPACE)
                .withKubeVersion(KUBE_VERSION);
        if (valuesFile != null) command = command.withValuesFile(valuesFile);
        for (var set : sets.entrySet()) command = command.set(set.getKey(), set.getValue());
        String yaml = command.call();
        write(OUT.resolve(label + ".yaml"), yaml);
        return yaml;
    }

    /**
     * {@code helm lint --strict} on a copy of the chart whose values.yaml is the chart's own merged with the given
     * file (helm-java's lint takes no values file), so that lint validates those values against the schema too.
     */
    static LintResult lint(String label, Path valuesFile) {
        Path copy = OUT.resolve("lint-" + label).resolve("kaze");
        try {
            copyTree(CHART, copy);
            if (valuesFile != null) {
                JsonNode merged = merge(Manifests.STRICT.readTree(CHART.resolve("values.yaml").toFile()),
                        Manifests.STRICT.readTree(valuesFile.toFile()));
                Manifests.STRICT.writeValue(copy.resolve("values.yaml").toFile(), merged);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Helm(copy).lint().strict().call();
    }

    /** Helm's coalescing of a values file over the defaults: maps merge key by key, anything else is replaced. */
    static JsonNode merge(JsonNode base, JsonNode over) {
        if (!(base instanceof ObjectNode b) || !(over instanceof ObjectNode o)) return over;
        ObjectNode out = b.deepCopy();
        for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
            var e = it.next();
            out.set(e.getKey(), out.has(e.getKey()) ? merge(out.get(e.getKey()), e.getValue()) : e.getValue());
        }
        return out;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(target);
                else Files.copy(f, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
