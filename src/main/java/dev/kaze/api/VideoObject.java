package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobStatus;
import dev.kaze.jobs.JobUsage;
import dev.kaze.json.Json;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The video object: OpenAI's Videos API fields ({@code id, object, model, status, progress, seconds,
 * size, prompt, created_at, completed_at, expires_at, remixed_from_video_id, error}) with Kaze's beside
 * them. Kaze adds one status, {@code cancelled}, that OpenAI's videos do not have.
 */
final class VideoObject {
    private VideoObject() {}

    static String status(JobStatus s) {
        return switch (s) {
            case QUEUED -> "queued";
            case IN_PROGRESS -> "in_progress";
            case COMPLETED -> "completed";
            case FAILED -> "failed";
            case CANCELLED -> "cancelled";
        };
    }

    /**
     * OpenAI's {@code seconds}: the duration the caller asked for, as a string ("4"), when it asked
     * by seconds (its 4k+1 frames span exactly that); else the rendered frames over the fps.
     */
    static String seconds(JsonNode asked, String rendered) {
        if (asked == null || asked.isNull()) return rendered;
        try {
            double s = asked.isNumber() ? asked.asDouble() : Double.parseDouble(asked.asString().strip());
            return s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s);
        } catch (RuntimeException e) {
            return rendered;
        }
    }

    /** OpenAI's {@code error} ({@code code}, {@code message}) with the stored problem beside them, or null. */
    static void putError(ObjectNode n, Job job) {
        if (job.errorJson() != null) {
            JsonNode problem = Json.MAPPER.readTree(job.errorJson());
            ObjectNode error = n.putObject("error");
            String type = problem.path("type").asString("");
            error.put("code", type.substring(type.lastIndexOf('/') + 1));
            error.put("message", problem.path("detail").asString(""));
            error.set("problem", problem);
        } else n.putNull("error");
    }

    static ObjectNode of(Job job, Integer queuePosition, Long etaSeconds) {
        return of(job, queuePosition, etaSeconds, null);
    }

    /** The video object with its {@code usage} (null until the job recorded one, see {@link UsageView}). */
    static ObjectNode of(Job job, Integer queuePosition, Long etaSeconds, JobUsage usage) {
        JsonNode resolved = job.resolvedJson() == null ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(job.resolvedJson());
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("id", job.id());
        n.put("object", "video");
        n.put("model", resolved.path("model").asString("kaze"));
        n.put("status", status(job.status()));
        n.put("progress", job.status() == JobStatus.COMPLETED ? 100 : Math.max(0, Math.min(100, job.progress())));
        JsonNode asked = job.requestJson() == null ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(job.requestJson());
        n.put("seconds", seconds(asked.get("seconds"), resolved.path("seconds").asString("")));
        n.put("size", resolved.path("size").asString(""));
        n.put("prompt", asked.path("prompt").asString(resolved.path("prompt").asString("")));
        if (resolved.has("prompt_enhancement")) {   // what the prompt enhancer made of prompt; the request's prompt is what rendered
            n.set("enhanced_prompt", resolved.get("enhanced_prompt"));
            n.set("prompt_enhancement", resolved.get("prompt_enhancement"));
        }
        n.put("created_at", job.createdAt().getEpochSecond());
        if (job.completedAt() != null) n.put("completed_at", job.completedAt().getEpochSecond()); else n.putNull("completed_at");
        n.putNull("expires_at");
        n.putNull("remixed_from_video_id");
        putError(n, job);
        // Kaze's fields
        n.put("stage", job.stage());
        n.put("step", job.step());
        n.put("total_steps", job.totalSteps());
        if (queuePosition != null) n.put("queue_position", queuePosition); else n.putNull("queue_position");
        if (etaSeconds != null) n.put("eta_seconds", etaSeconds); else n.putNull("eta_seconds");
        n.put("priority", job.priority());
        if (job.startedAt() != null) n.put("started_at", job.startedAt().getEpochSecond()); else n.putNull("started_at");
        n.set("request", resolved);
        n.set("usage", UsageView.of(usage));
        if (job.metadataJson() != null) n.set("metadata", Json.MAPPER.readTree(job.metadataJson())); else n.putNull("metadata");
        ObjectNode links = n.putObject("links");
        String self = VideoController.PATH + "/" + job.id();
        links.put("self", self);
        links.put("events", self + "/events");
        links.put("cancel", self + "/cancel");
        if (job.status() == JobStatus.COMPLETED) {
            links.put("content", self + "/content");
            links.put("thumbnail", self + "/content?variant=thumbnail");
        }
        return n;
    }
}
