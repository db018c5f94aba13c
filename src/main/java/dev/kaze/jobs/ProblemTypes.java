package dev.kaze.jobs;

import dev.kaze.json.Json;

import java.net.URI;

/**
 * The stable RFC 9457 problem {@code type} URIs, for HTTP errors and for the error a failed job keeps:
 * {@link #BASE} followed by a short name ({@code generation-failed}, {@code queue-full}, …).
 */
public final class ProblemTypes {
    /** Every problem type URI starts with this. */
    public static final String BASE = "https://kaze.dev/problems/";

    private ProblemTypes() {}

    /** The type URI of the problem named {@code name}. */
    public static URI uri(String name) {
        return URI.create(BASE + name);
    }

    /**
     * A failed job's error as problem-details JSON: {@code {"type","title","status","detail"}}; a missing
     * detail repeats the title.
     */
    public static String failure(String name, String title, int status, String detail) {
        return Json.MAPPER.createObjectNode().put("type", BASE + name).put("title", title).put("status", status)
                .put("detail", detail == null ? title : detail).toString();
    }
}
