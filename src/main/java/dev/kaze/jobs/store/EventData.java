package dev.kaze.jobs.store;

import dev.kaze.jobs.JobStatus;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import static dev.kaze.json.Json.MAPPER;

/** The JSON data of the events the store appends itself, one method per event type. */
final class EventData {
    private EventData() {
    }

    static String queued(int priority) {
        return json(status(JobStatus.QUEUED).put("priority", priority));
    }

    static String started(String workerId) {
        return json(status(JobStatus.IN_PROGRESS).put("worker_id", workerId));
    }

    static String completed() {
        return json(status(JobStatus.COMPLETED));
    }

    /** An error given as a JSON object or array goes into the event as is; anything else as a JSON string. */
    static String failed(String errorJson) {
        ObjectNode data = status(JobStatus.FAILED);
        if (errorJson != null) data.set("error", structured(errorJson));
        return json(data);
    }

    static String cancelled() {
        return json(status(JobStatus.CANCELLED));
    }

    static String cancelRequested() {
        return json(MAPPER.createObjectNode().put("cancel_requested", true));
    }

    /** {@code previousWorkerId} may be null (a job claimed before workers were recorded). */
    static String requeued(String previousWorkerId) {
        return json(status(JobStatus.QUEUED).put("previous_worker_id", previousWorkerId));
    }

    private static ObjectNode status(JobStatus status) {
        return MAPPER.createObjectNode().put("status", status.name());
    }

    private static JsonNode structured(String json) {
        String t = json.strip();
        if ((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"))) {
            try {
                return MAPPER.readTree(t);
            } catch (JacksonException notJson) {
                // looks structured but is not JSON: kept as text like any other error
            }
        }
        return MAPPER.getNodeFactory().stringNode(json);
    }

    private static String json(ObjectNode data) {
        return MAPPER.writeValueAsString(data);
    }
}
