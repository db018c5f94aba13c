package dev.kaze.api;

import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The wire spells every field name in snake_case, as OpenAI's API does ({@code total_steps},
 * {@code eta_seconds}): lowercase letters, digits and '_'. The caller's own {@code metadata} is not
 * looked into.
 */
final class WireNames {
    private static final Pattern SNAKE = Pattern.compile("[a-z0-9_]+");

    private WireNames() {}

    /** The JSON pointers of names that are not snake_case. */
    static List<String> offenders(JsonNode node) {
        List<String> out = new ArrayList<>();
        collect(node, "", out);
        return out;
    }

    private static void collect(JsonNode node, String at, List<String> out) {
        if (node.isObject()) {
            for (var e : node.properties()) {
                String path = at + "/" + e.getKey();
                if (!SNAKE.matcher(e.getKey()).matches()) out.add(path);
                if (!e.getKey().equals("metadata")) collect(e.getValue(), path, out);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) collect(node.get(i), at + "/" + i, out);
        }
    }

    static void assertSnakeCase(String what, JsonNode node) {
        assertThat(offenders(node)).as("names that are not snake_case in %s: %s", what, node).isEmpty();
    }

    static void assertSnakeCase(String what, List<JsonNode> nodes) {
        for (JsonNode n : nodes) assertSnakeCase(what, n);
    }
}
