package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobPage;
import dev.kaze.json.Json;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.time.DateTimeException;
import java.util.concurrent.Callable;
import java.util.function.Function;

/** Pages of jobs as list objects: {@code data}, {@code first_id}, {@code last_id}, {@code has_more}, {@code next_cursor}. */
final class ListPages {
    private ListPages() {}

    /**
     * The page the store lists (blocking); an {@code after} the store cannot place (neither one of the
     * caller's {@code jobs} nor a cursor it gave, or one decoding out of range) is a 400.
     */
    static JobPage fetch(Callable<JobPage> list, String jobs) throws Exception {
        try {
            return list.call();
        } catch (IllegalArgumentException | DateTimeException | ArithmeticException e) {
            throw Requests.badAfter(jobs);
        }
    }

    static ObjectNode of(JobPage page, Function<Job, ObjectNode> view) {
        ObjectNode out = Json.MAPPER.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        page.jobs().forEach(j -> data.add(view.apply(j)));
        if (page.jobs().isEmpty()) {
            out.putNull("first_id");
            out.putNull("last_id");
        } else {
            out.put("first_id", page.jobs().getFirst().id());
            out.put("last_id", page.jobs().getLast().id());
        }
        out.put("has_more", page.nextCursor() != null);
        if (page.nextCursor() != null) out.put("next_cursor", page.nextCursor()); else out.putNull("next_cursor");
        return out;
    }
}
