package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobStatus;
import dev.kaze.json.Json;
import dev.kaze.training.TrainingArgs;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The training object: status and progress as the video object has them, the dataset, LoRA name and
 * musubi arguments it was created with, its result, and links to its events, files, LoRA and log.
 */
final class TrainingObject {
    private TrainingObject() {}

    static ObjectNode of(Job job, Integer queuePosition) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("id", job.id());
        n.put("object", "training");
        n.put("status", VideoObject.status(job.status()));
        n.put("progress", job.status() == JobStatus.COMPLETED ? 100 : Math.max(0, Math.min(100, job.progress())));
        n.put("stage", job.stage());
        n.put("step", job.step());
        n.put("total_steps", job.totalSteps());
        if (queuePosition != null) n.put("queue_position", queuePosition); else n.putNull("queue_position");
        n.put("priority", job.priority());
        n.put("created_at", job.createdAt().getEpochSecond());
        if (job.startedAt() != null) n.put("started_at", job.startedAt().getEpochSecond()); else n.putNull("started_at");
        if (job.completedAt() != null) n.put("completed_at", job.completedAt().getEpochSecond()); else n.putNull("completed_at");
        JsonNode request = Json.MAPPER.readTree(job.requestJson());
        JsonNode resolved = job.resolvedJson() == null ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(job.resolvedJson());
        n.put("dataset", request.path("dataset").asString(""));
        n.put("lora_name", resolved.path("lora_name").asString(""));
        n.set("args", resolved.path("args"));
        if (resolved.hasNonNull("resume_from")) n.put("resumed_from", resolved.get("resume_from").asString()); else n.putNull("resumed_from");
        if (resolved.has("result")) n.set("result", resolved.get("result")); else n.putNull("result");
        n.set("notes", resolved.has("run_notes") ? resolved.get("run_notes")   // the run's notes event (with what it resolved)
                : Json.MAPPER.valueToTree(TrainingArgs.notes(resolved.path("args"))));
        VideoObject.putError(n, job);
        if (job.metadataJson() != null) n.set("metadata", Json.MAPPER.readTree(job.metadataJson())); else n.putNull("metadata");
        ObjectNode links = n.putObject("links");
        String self = TrainingController.PATH + "/" + job.id();
        links.put("self", self);
        links.put("events", self + "/events");
        links.put("files", self + "/files");
        links.put("cancel", self + "/cancel");
        links.put("resume", self + "/resume");
        String output = TrainingArgs.fromJson(resolved.path("args")).outputName();   // checked when the job was created
        links.put("log", self + "/files/" + output + ".log.jsonl");
        links.put("loss_curve", self + "/files/" + output + "-loss.png");
        if (job.status() == JobStatus.COMPLETED) links.put("lora", LoraController.PATH + "/" + resolved.path("lora_name").asString(""));
        return n;
    }
}
