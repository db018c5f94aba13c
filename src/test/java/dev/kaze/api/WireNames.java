package dev.kaze.api;

import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The wire spells every field name in snake_case, as OpenAI's API does ({@code total_steps},
 * {@code eta_seconds}): lowercase letters, digits and '_'. The caller's own {@code metadata} is not
 * looked into.
 */
final class WireNames {
    private static final Pattern SNAKE = Pattern.compile("[a-z0-9_]+");
    // TODO(merge): JdbcJobStore writes the started event's workerId and the cancel_requested event's cancelRequested;
    // the store branch renames them (worker_id, cancel_requested): remove these exceptions then.
    private static final Set<String> PENDING = Set.of("workerId", "cancelRequested");

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
                if (!SNAKE.matcher(e.getKey()).matches() && !PENDING.contains(e.getKey())) out.add(path);
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
