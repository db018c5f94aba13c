package dev.kaze.api;

import dev.kaze.jobs.JobEventType;
import dev.kaze.jobs.JobKind;
import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.InvalidFieldException;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.Recipe;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.pipeline.guidance.Nag;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The body of {@code POST /v1/videos}, from JSON or from form fields (the OpenAI SDKs send
 * multipart/form-data with {@code prompt}, {@code model}, {@code seconds} as a string and
 * {@code size}). Every invalid field is reported, by name, in one {@link ValidationException}.
 */
public record VideoCreateRequest(GenerateRequest request, int priority, String metadataJson, String webhookJson,
                                 String canonicalJson, String requestHash, boolean enhancePrompt) {
    static final Set<String> FIELDS = Set.of("prompt", "negative_prompt", "model", "size", "width", "height", "frames", "seconds",
            "fps", "steps", "shift", "seed", "sampler", "guidance", "loras", "preset", "priority", "webhook", "metadata",
            "input_reference", "previews", "enhance_prompt");
    static final Set<String> OBJECT_FIELDS = Set.of("guidance", "loras", "webhook", "metadata");
    static final Set<String> WEBHOOK_EVENTS = new LinkedHashSet<>(JobEventType.webhookNames(JobKind.VIDEO));
    private static final Pattern SIZE = Pattern.compile("(\\d{1,5})[x×](\\d{1,5})");
    static final int MAX_METADATA_BYTES = 16 * 1024;

    /** Form fields (all strings) as JSON: object-valued fields are parsed, the rest kept as text. */
    public static ObjectNode fromForm(Map<String, List<String>> form) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        List<FieldError> errors = new ArrayList<>();
        for (var e : form.entrySet()) {
            if (e.getValue().size() > 1) errors.add(new FieldError(e.getKey(), "given more than once"));
            String v = e.getValue().isEmpty() || e.getValue().getFirst() == null ? "" : e.getValue().getFirst();
            if (v.indexOf('\uFFFD') >= 0) {   // what the form decoders put where the bytes were not UTF-8
                errors.add(new FieldError(e.getKey(), "is not valid UTF-8"));
                continue;
            }
            if (OBJECT_FIELDS.contains(e.getKey())) {
                try {
                    n.set(e.getKey(), Json.MAPPER.readTree(v));
                } catch (RuntimeException ex) {
                    errors.add(new FieldError(e.getKey(), "must be JSON"));
                }
            } else n.put(e.getKey(), v);
        }
        if (!errors.isEmpty()) throw new ValidationException(errors);
        return n;
    }

    /** Every requested LoRA is in the catalog (named without revealing where the catalog lives). */
    void requireLorasIn(LoraCatalog catalog) {
        if (request.loras() == null) return;
        List<FieldError> errors = new ArrayList<>();
        for (int i = 0; i < request.loras().size(); i++) {
            String name = request.loras().get(i).name();
            if (!catalog.has(name)) {
                List<String> known = catalog.names();
                errors.add(new FieldError("loras", "no LoRA named '" + name + "' (loras[" + i + "]) on this server"
                        + (known.isEmpty() ? "; it has none" : known.size() <= 20 ? "; it has " + String.join(", ", known) : "")));
            }
        }
        if (!errors.isEmpty()) throw new ValidationException(errors);
    }

    public static VideoCreateRequest parse(JsonNode body, String servedModel) {
        if (body == null || !body.isObject()) throw ValidationException.of("body", "must be a JSON object");
        List<FieldError> errors = new ArrayList<>();
        for (String name : body.propertyNames())
            if (!FIELDS.contains(name)) errors.add(new FieldError(name, "unknown field"));
        Fields f = new Fields(body, errors);

        String prompt = f.string("prompt", GenerateRequest.MAX_PROMPT_CHARS, true);
        String negative = f.string("negative_prompt", GenerateRequest.MAX_PROMPT_CHARS, false);
        String model = f.string("model", 200, false);
        if (model != null && !model.equals(servedModel) && !model.startsWith("sora") && !model.equals("kaze"))
            errors.add(new FieldError("model", "this server serves '" + servedModel + "'"));
        if (body.has("input_reference")) errors.add(new FieldError("input_reference", "image input is not supported; Kaze is text-to-video"));
        String preset = f.string("preset", 50, false);
        if (preset != null && !preset.equals("recipe"))
            errors.add(new FieldError("preset", "unknown preset '" + preset + "' (known: recipe)"));
        String sampler = f.string("sampler", 50, false);
        if (sampler != null && !sampler.equals("unipc")) errors.add(new FieldError("sampler", "unknown sampler '" + sampler + "' (supported: unipc)"));

        Integer width = f.integer("width", 16, GenerateRequest.MAX_SIDE), height = f.integer("height", 16, GenerateRequest.MAX_SIDE);
        String size = f.string("size", 20, false);
        boolean fromSize = false, fromSeconds = false;
        if (size != null) {
            Matcher m = SIZE.matcher(size);
            if (!m.matches()) errors.add(new FieldError("size", "must be WIDTHxHEIGHT, e.g. 640x480"));
            else if (body.has("width") || body.has("height")) errors.add(new FieldError("size", "give size or width/height, not both"));
            else {
                width = Integer.parseInt(m.group(1));
                height = Integer.parseInt(m.group(2));
                fromSize = true;
            }
        }
        Integer fps = f.integer("fps", 1, 60);
        Integer frames = f.integer("frames", 1, GenerateRequest.MAX_FRAMES);
        Double seconds = f.number("seconds", 0.05, 60);
        if (seconds != null) {
            if (frames != null || body.has("frames")) errors.add(new FieldError("seconds", "give frames or seconds, not both"));
            else {
                long n = Math.round(seconds * (fps == null ? Recipe.FPS : fps));
                frames = (int) (4 * Math.round((n - 1) / 4.0) + 1);
                fromSeconds = true;
            }
        }
        Integer steps = f.integer("steps", 1, 100);
        Double shift = f.number("shift", 1e-3, 100);
        Long seed = f.longValue("seed", 0, (1L << 53));
        int priority = f.integer("priority", -10, 10) instanceof Integer p ? p : 0;
        Guidance guidance = guidance(body.get("guidance"), errors);
        List<GenerateRequest.LoraRef> loras = loras(body.get("loras"), errors);
        String webhookJson = webhook(body.get("webhook"), WEBHOOK_EVENTS, errors);
        String metadataJson = metadata(body.get("metadata"), errors);
        Boolean previews = flag(body, "previews", errors);
        boolean enhancePrompt = Boolean.TRUE.equals(flag(body, "enhance_prompt", errors));
        GenerateRequest request = null;
        if (errors.isEmpty()) {
            try {
                request = new GenerateRequest(prompt, negative, width, height, frames, fps, steps, shift, seed, guidance, loras, previews);
            } catch (InvalidFieldException e) {
                for (InvalidFieldException.Problem p : e.problems()) {
                    String field = p.field(), text = p.message();
                    // name the field the client sent, not the one derived from it
                    if (fromSize && (field.equals("width") || field.equals("height"))) errors.add(new FieldError("size", field + " " + text));
                    else if (fromSeconds && field.equals("frames"))
                        errors.add(new FieldError("seconds", "gives " + frames + " frames at " + (fps == null ? Recipe.FPS : fps) + " fps; frames " + text));
                    else errors.add(new FieldError(field, text));
                }
            }
        }
        if (!errors.isEmpty()) throw new ValidationException(errors);
        String canonical = canonical(body);
        return new VideoCreateRequest(request, priority, metadataJson, webhookJson, canonical, sha256(canonical), enhancePrompt);
    }

    /** An optional true/false field (a JSON boolean, or "true"/"false" from a form), or null when absent. */
    static Boolean flag(JsonNode body, String name, List<FieldError> errors) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) return null;
        if (v.isBoolean()) return v.asBoolean();
        if (v.isString() && (v.asString().equals("true") || v.asString().equals("false"))) return Boolean.parseBoolean(v.asString());
        errors.add(new FieldError(name, "must be true or false"));
        return null;
    }

    private static Guidance guidance(JsonNode g, List<FieldError> errors) {
        if (g == null || g.isNull()) return null;
        if (!g.isObject() || !g.has("type") || !g.get("type").isString()) {
            errors.add(new FieldError("guidance", "must be an object with a type: nag, cfg or none"));
            return null;
        }
        Fields f = new Fields(g, errors, "guidance.");
        Set<String> allowed = switch (g.get("type").asString()) {
            case "nag" -> Set.of("type", "scale", "tau", "alpha");
            case "cfg" -> Set.of("type", "scale");
            default -> Set.of("type");
        };
        for (String name : g.propertyNames())
            if (!allowed.contains(name)) errors.add(new FieldError("guidance." + name, "unknown field for guidance type " + g.get("type")));
        try {
            return switch (g.get("type").asString()) {
                case "nag" -> {
                    Double scale = f.number("scale", 0, 100), tau = f.number("tau", 1e-6, 100), alpha = f.number("alpha", 0, 1);
                    yield new Nag(scale == null ? Recipe.NAG_SCALE : scale, tau == null ? Recipe.NAG_TAU : tau, alpha == null ? Recipe.NAG_ALPHA : alpha);
                }
                case "cfg" -> {
                    Double scale = f.number("scale", 0, 100);
                    yield new Guidance.Cfg(scale == null ? 5.0 : scale);
                }
                case "none" -> new Guidance.None();
                default -> {
                    errors.add(new FieldError("guidance.type", "must be nag, cfg or none"));
                    yield null;
                }
            };
        } catch (IllegalArgumentException e) {
            errors.add(new FieldError("guidance", e.getMessage()));
            return null;
        }
    }

    private static List<GenerateRequest.LoraRef> loras(JsonNode l, List<FieldError> errors) {
        if (l == null || l.isNull()) return null;
        if (!l.isArray()) {
            errors.add(new FieldError("loras", "must be an array of {name, strength}"));
            return null;
        }
        if (l.size() > 8) {
            errors.add(new FieldError("loras", "at most 8 LoRAs"));
            return null;
        }
        List<GenerateRequest.LoraRef> refs = new ArrayList<>();
        for (int i = 0; i < l.size(); i++) {
            JsonNode e = l.get(i);
            String field = "loras[" + i + "]";
            if (!e.isObject() || !e.has("name") || !e.get("name").isString()) {
                errors.add(new FieldError(field, "must be an object with a name"));
                continue;
            }
            boolean unknown = false;
            for (String name : e.propertyNames())
                if (!name.equals("name") && !name.equals("strength")) {
                    errors.add(new FieldError(field + "." + name, "unknown field (a LoRA has a name and a strength)"));
                    unknown = true;
                }
            if (unknown) continue;
            JsonNode s = e.get("strength");
            if (s != null && !s.isNumber()) {
                errors.add(new FieldError(field + ".strength", "must be a number"));
                continue;
            }
            try {
                refs.add(new GenerateRequest.LoraRef(e.get("name").asString(), s == null ? 1.0 : s.asDouble()));
            } catch (InvalidFieldException ex) {
                ex.problems().forEach(p -> errors.add(new FieldError(field, p.message())));
            }
        }
        return refs;
    }

    /** The caller's metadata object as JSON to store, or null; problems go to errors. */
    static String metadata(JsonNode metadata, List<FieldError> errors) {
        if (metadata == null || metadata.isNull()) return null;
        String bad;
        if (!metadata.isObject()) errors.add(new FieldError("metadata", "must be a JSON object"));
        else if (metadata.toString().getBytes(StandardCharsets.UTF_8).length > MAX_METADATA_BYTES)
            errors.add(new FieldError("metadata", "at most " + MAX_METADATA_BYTES + " bytes"));
        else if ((bad = storable(metadata, 0)) != null) errors.add(new FieldError("metadata", bad));
        else return metadata.toString();
        return null;
    }

    /** A webhook object ({@code url}, {@code events} from known) as JSON to store, or null; problems go to errors. */
    static String webhook(JsonNode w, Set<String> known, List<FieldError> errors) {
        if (w == null || w.isNull()) return null;
        if (!w.isObject() || !w.has("url") || !w.get("url").isString()) {
            errors.add(new FieldError("webhook", "must be an object with a url"));
            return null;
        }
        for (String name : w.propertyNames())
            if (!name.equals("url") && !name.equals("events")) errors.add(new FieldError("webhook." + name, "unknown field (a webhook has a url and events)"));
        String url = w.get("url").asString();
        try {
            URI u = new URI(url);
            if (url.length() > 2000 || !("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null || u.getUserInfo() != null)
                errors.add(new FieldError("webhook.url", "must be an http(s) URL with a host and no credentials, at most 2000 characters"));
        } catch (URISyntaxException e) {
            errors.add(new FieldError("webhook.url", "is not a valid URL"));
        }
        Set<String> events = new LinkedHashSet<>();
        JsonNode ev = w.get("events");
        if (ev != null && !ev.isNull()) {
            if (!ev.isArray()) errors.add(new FieldError("webhook.events", "must be an array of event names"));
            else for (JsonNode e : ev) {
                if (!e.isString() || !known.contains(e.asString()))
                    errors.add(new FieldError("webhook.events", "unknown event " + FieldError.clip(e.toString(), 60) + " (known: " + known + ")"));
                else events.add(e.asString());
            }
        }
        ObjectNode n = Json.MAPPER.createObjectNode().put("url", url);
        var arr = n.putArray("events");
        events.forEach(arr::add);
        return n.toString();
    }

    /**
     * Why the text cannot be taken, or null: unpaired surrogates are not Unicode text, and a NUL
     * cannot be stored (PostgreSQL refuses it); other control characters only where {@code controls}.
     */
    static String textProblem(String s, boolean controls) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
                continue;
            }
            if (Character.isSurrogate(c)) return "contains an unpaired surrogate at position " + i + "; send valid Unicode text";
            if (c == 0) return "contains a NUL character at position " + i;
            if (!controls && c != '\t' && c != '\n' && c != '\r' && (c < 0x20 || (c >= 0x7f && c <= 0x9f)))
                return String.format("contains the control character U+%04X at position %d; send plain text", (int) c, i);
        }
        return null;
    }

    /** Why metadata cannot be stored as it is, or null: every key and string must be storable text, nesting at most 16 deep. */
    private static String storable(JsonNode n, int depth) {
        if (depth > 16) return "nested more than 16 levels deep";
        if (n.isString()) return textProblem(n.asString(), true);
        for (var e : n.properties()) {
            String bad = textProblem(e.getKey(), true);
            if (bad == null) bad = storable(e.getValue(), depth + 1);
            if (bad != null) return bad;
        }
        if (n.isArray()) for (JsonNode v : n) {
            String bad = storable(v, depth + 1);
            if (bad != null) return bad;
        }
        return null;
    }

    /** The body with keys sorted, so the same request hashes the same however it was written. */
    static String canonical(JsonNode body) {
        return Json.MAPPER.valueToTree(sorted(body)).toString();
    }

    private static Object sorted(JsonNode n) {
        if (n.isObject()) {
            TreeMap<String, Object> m = new TreeMap<>();
            for (var e : n.properties()) m.put(e.getKey(), sorted(e.getValue()));
            return m;
        }
        if (n.isArray()) {
            List<Object> l = new ArrayList<>();
            for (JsonNode e : n) l.add(sorted(e));
            return l;
        }
        return n;
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Typed reads of optional fields that accept JSON numbers or numeric strings (form posts). */
    private record Fields(JsonNode node, List<FieldError> errors, String prefix) {
        Fields(JsonNode node, List<FieldError> errors) { this(node, errors, ""); }

        String string(String name, int maxLength, boolean required) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                if (required) errors.add(new FieldError(prefix + name, "is required"));
                return null;
            }
            if (!v.isString()) {
                errors.add(new FieldError(prefix + name, "must be a string"));
                return null;
            }
            String s = v.asString();
            if (s.length() > maxLength) {
                errors.add(new FieldError(prefix + name, "at most " + maxLength + " characters, got " + s.length()));
                return null;
            }
            if (required && s.isBlank()) {
                errors.add(new FieldError(prefix + name, "must not be empty"));
                return null;
            }
            String bad = textProblem(s, false);
            if (bad != null) {
                errors.add(new FieldError(prefix + name, bad));
                return null;
            }
            return s;
        }

        Double number(String name, double min, double max) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) return null;
            double d;
            if (v.isNumber()) d = v.asDouble();
            else if (v.isString()) {
                try {
                    d = Double.parseDouble(v.asString().strip());
                } catch (NumberFormatException e) {
                    errors.add(new FieldError(prefix + name, "must be a number"));
                    return null;
                }
            } else {
                errors.add(new FieldError(prefix + name, "must be a number"));
                return null;
            }
            if (!Double.isFinite(d) || d < min || d > max) {
                errors.add(new FieldError(prefix + name, "must be between " + fmt(min) + " and " + fmt(max)));
                return null;
            }
            return d;
        }

        Long longValue(String name, long min, long max) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) return null;
            long l;
            if (v.isIntegralNumber() && v.canConvertToLong()) l = v.asLong();
            else if (v.isString() && v.asString().strip().matches("-?\\d{1,19}")) {
                try {
                    l = Long.parseLong(v.asString().strip());
                } catch (NumberFormatException e) {
                    errors.add(new FieldError(prefix + name, "must be an integer"));
                    return null;
                }
            } else {
                errors.add(new FieldError(prefix + name, "must be an integer"));
                return null;
            }
            if (l < min || l > max) {
                errors.add(new FieldError(prefix + name, "must be between " + min + " and " + max));
                return null;
            }
            return l;
        }

        Integer integer(String name, int min, int max) {
            Long l = longValue(name, min, max);
            return l == null ? null : l.intValue();
        }

        private static String fmt(double d) { return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d); }
    }
}
