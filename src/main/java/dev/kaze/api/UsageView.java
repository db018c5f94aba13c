package dev.kaze.api;

import dev.kaze.jobs.JobUsage;
import dev.kaze.json.Json;
import tools.jackson.databind.node.ObjectNode;

import java.util.Map;

/** A job's {@code usage} object: device seconds in all and per stage, peak device memory, model and LoRAs. */
final class UsageView {
    private UsageView() {}

    /** The usage object, or null (JSON null) while none was recorded (a queued or running job). */
    static ObjectNode of(JobUsage usage) {
        if (usage == null) return null;
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("device_seconds", round(usage.deviceSeconds()));
        n.set("stages", seconds(usage.stageSeconds()));
        if (usage.peakMemoryBytes() != null) n.put("peak_device_memory_bytes", usage.peakMemoryBytes());
        else n.putNull("peak_device_memory_bytes");
        n.put("peak_device_memory_source", usage.peakMemorySource());
        n.put("model", usage.model());
        ObjectNode loras = n.putObject("loras");
        usage.loras().forEach((name, sha) -> loras.putObject(name).put("sha256", sha));
        return n;
    }

    /** Stage name to seconds, rounded to milliseconds. */
    static ObjectNode seconds(Map<String, Double> stages) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        stages.forEach((stage, s) -> n.put(stage, round(s)));
        return n;
    }

    static double round(double seconds) {
        return Math.round(seconds * 1000) / 1000.0;
    }
}
