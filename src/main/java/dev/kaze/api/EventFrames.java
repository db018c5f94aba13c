package dev.kaze.api;

import dev.kaze.jobs.JobEvent;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/** One event as every channel sends it: {@code {"id","seq","type","at","data"}}. */
final class EventFrames {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private EventFrames() {}

    static JsonNode data(JobEvent e) {
        if (e.dataJson() == null || e.dataJson().isBlank()) return JSON.createObjectNode();
        return JSON.readTree(e.dataJson());
    }

    static String json(JobEvent e) {
        ObjectNode n = JSON.createObjectNode();
        n.put("video_id", e.jobId());
        n.put("seq", e.seq());
        n.put("type", e.type());
        n.put("at", e.at().toString());
        n.set("data", data(e));
        return n.toString();
    }

    /** A resume point: the sequence number after which to send, 0 for all. */
    static long after(String value) { return after(value, "after"); }

    /** A resume point from the named parameter or header. */
    static long after(String value, String field) {
        if (value == null || value.isBlank()) return 0;
        try {
            long v = Long.parseLong(value.strip());
            if (v < 0) throw ValidationException.of(field, "must be a non-negative event sequence number");
            return v;
        } catch (NumberFormatException e) {
            throw ValidationException.of(field, "must be an event sequence number");
        }
    }
}
