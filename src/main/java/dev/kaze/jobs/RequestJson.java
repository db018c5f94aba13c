package dev.kaze.jobs;

import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.pipeline.guidance.Nag;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The resolved request as the job records it (and reads it back to run or resume it). */
public final class RequestJson {
    private RequestJson() {}

    public static ObjectNode guidance(Guidance g) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        switch (g) {
            case Nag nag -> n.put("type", "nag").put("scale", nag.scale()).put("tau", nag.tau()).put("alpha", nag.alpha());
            case Guidance.Cfg cfg -> n.put("type", "cfg").put("scale", cfg.scale());
            case Guidance.None none -> n.put("type", "none");
        }
        return n;
    }

    public static ObjectNode write(GenerateRequest.Resolved r, String model) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("model", model);
        n.put("prompt", r.prompt());
        n.put("trigger_added", r.triggerAdded());
        n.put("negative_prompt", r.negativePrompt());
        n.put("size", r.width() + "x" + r.height());
        n.put("width", r.width());
        n.put("height", r.height());
        n.put("frames", r.frames());
        n.put("fps", r.fps());
        n.put("seconds", seconds(r));
        n.put("steps", r.steps());
        n.put("shift", r.shift());
        n.put("seed", r.seed());
        n.put("sampler", "unipc");
        n.set("guidance", guidance(r.guidance()));
        ArrayNode loras = n.putArray("loras");
        for (GenerateRequest.LoraRef l : r.loras()) loras.addObject().put("name", l.name()).put("strength", l.strength());
        n.put("previews", r.previews());
        GenerateRequest.Enhancement e = r.enhancement();
        if (e != null) {
            n.put("enhanced_prompt", e.enhancedPrompt());
            ObjectNode pe = n.putObject("prompt_enhancement").put("status", e.status()).put("model", e.model());
            if (e.reason() != null) pe.put("reason", e.reason());
        }
        return n;
    }

    /** Duration as OpenAI's videos API writes it: a string of seconds. */
    public static String seconds(GenerateRequest.Resolved r) {
        double s = r.frames() / (double) r.fps();
        return s == Math.rint(s) ? Long.toString((long) s) : String.format(Locale.ROOT, "%.2f", s);
    }

    public static GenerateRequest.Resolved read(String json) {
        JsonNode n = Json.MAPPER.readTree(json);
        JsonNode g = n.get("guidance");
        Guidance guidance = switch (g.get("type").asString()) {
            case "nag" -> new Nag(g.get("scale").asDouble(), g.get("tau").asDouble(), g.get("alpha").asDouble());
            case "cfg" -> new Guidance.Cfg(g.get("scale").asDouble());
            default -> new Guidance.None();
        };
        List<GenerateRequest.LoraRef> loras = new ArrayList<>();
        for (JsonNode l : n.get("loras")) loras.add(new GenerateRequest.LoraRef(l.get("name").asString(), l.get("strength").asDouble()));
        JsonNode pe = n.get("prompt_enhancement");
        GenerateRequest.Enhancement enhancement = pe == null || pe.isNull() ? null : new GenerateRequest.Enhancement(pe.path("status").asString(),
                n.path("enhanced_prompt").isString() ? n.get("enhanced_prompt").asString() : null, pe.path("model").asString(null),
                pe.path("reason").asString(null));
        return new GenerateRequest.Resolved(n.get("prompt").asString(), n.get("trigger_added").asBoolean(),
                n.get("negative_prompt").asString(), n.get("width").asInt(), n.get("height").asInt(), n.get("frames").asInt(),
                n.get("fps").asInt(), n.get("steps").asInt(), n.get("shift").asDouble(), n.get("seed").asLong(), guidance, loras,
                n.path("previews").asBoolean(true), enhancement);
    }
}
