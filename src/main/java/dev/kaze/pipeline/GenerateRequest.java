package dev.kaze.pipeline;

import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.pipeline.guidance.Nag;

import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One text-to-video request, validated. Null fields take the recipe's defaults through
 * {@link #resolve}; the result is what the job records.
 *
 * @param loras null for the model's default stack; an empty list for none
 * @param seed  null for a random seed (the resolved request records the one used)
 * @param previews null or true for live previews while denoising; false for none
 */
public record GenerateRequest(String prompt, String negativePrompt, Integer width, Integer height, Integer frames,
                              Integer fps, Integer steps, Double shift, Long seed, Guidance guidance,
                              List<LoraRef> loras, Boolean previews) {
    public static final int MAX_PROMPT_CHARS = 4000;
    public static final int MAX_SIDE = 2048;
    public static final int MAX_FRAMES = 201;
    private static final Pattern LORA_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /** A LoRA from the catalog by name, with its strength. */
    public record LoraRef(String name, double strength) {
        public LoraRef {
            if (!isCatalogName(name))
                throw new InvalidFieldException("loras", "name '" + name + "' is not a catalog name (letters, digits, '.', '_', '-'; no paths)");
            if (!Double.isFinite(strength) || Math.abs(strength) > 10)
                throw new InvalidFieldException("loras", "strength of '" + name + "' must be a finite number in [-10, 10], got " + strength);
        }

        /** A name the catalog can hold: letters, digits, '.', '_' and '-', at most 128, no '..' (so no paths). */
        public static boolean isCatalogName(String name) {
            return name != null && LORA_NAME.matcher(name).matches() && !name.contains("..");
        }
    }

    public GenerateRequest {
        if (prompt == null || prompt.isBlank()) throw new InvalidFieldException("prompt", "must not be empty");
        if (prompt.length() > MAX_PROMPT_CHARS)
            throw new InvalidFieldException("prompt", "at most " + MAX_PROMPT_CHARS + " characters, got " + prompt.length());
        if (negativePrompt != null && negativePrompt.length() > MAX_PROMPT_CHARS)
            throw new InvalidFieldException("negative_prompt", "at most " + MAX_PROMPT_CHARS + " characters, got " + negativePrompt.length());
        side("width", width);
        side("height", height);
        if (frames != null && (frames < 1 || frames > MAX_FRAMES || (frames - 1) % 4 != 0))
            throw new InvalidFieldException("frames", "must be 4k+1 between 1 and " + MAX_FRAMES + " (e.g. 81), got " + frames);
        if (fps != null && (fps < 1 || fps > 60)) throw new InvalidFieldException("fps", "must be between 1 and 60, got " + fps);
        if (steps != null && (steps < 1 || steps > 100)) throw new InvalidFieldException("steps", "must be between 1 and 100, got " + steps);
        if (shift != null && (!Double.isFinite(shift) || shift <= 0 || shift > 100))
            throw new InvalidFieldException("shift", "must be a finite number in (0, 100], got " + shift);
        if (seed != null && seed < 0) throw new InvalidFieldException("seed", "must be a non-negative integer, got " + seed);
        if (loras != null) {
            if (loras.size() > 8) throw new InvalidFieldException("loras", "at most 8, got " + loras.size());
            if (loras.stream().anyMatch(Objects::isNull)) throw new InvalidFieldException("loras", "entries must not be null");
            loras = List.copyOf(loras);
        }
    }

    /** A request with live previews on (the default). */
    public GenerateRequest(String prompt, String negativePrompt, Integer width, Integer height, Integer frames,
                           Integer fps, Integer steps, Double shift, Long seed, Guidance guidance, List<LoraRef> loras) {
        this(prompt, negativePrompt, width, height, frames, fps, steps, shift, seed, guidance, loras, null);
    }

    /** The same request with another prompt (an enhanced one). */
    public GenerateRequest withPrompt(String other) {
        return new GenerateRequest(other, negativePrompt, width, height, frames, fps, steps, shift, seed, guidance, loras, previews);
    }

    private static void side(String name, Integer v) {
        if (v != null && (v < 16 || v > MAX_SIDE || v % 16 != 0))
            throw new InvalidFieldException(name, "must be a multiple of 16 between 16 and " + MAX_SIDE + ", got " + v);
    }

    /** A request with only a prompt; everything else from the recipe. */
    public static GenerateRequest of(String prompt) {
        return new GenerateRequest(prompt, null, null, null, null, null, null, null, null, null, null);
    }

    /** Every default filled in: the request as it will run. */
    public Resolved resolve(List<LoraRef> defaultLoras, long randomSeed) {
        String full = Recipe.withTrigger(prompt);
        return new Resolved(full, !full.equals(prompt.strip()), Recipe.negativePrompt(negativePrompt),
                width == null ? Recipe.WIDTH : width, height == null ? Recipe.HEIGHT : height,
                frames == null ? Recipe.FRAMES : frames, fps == null ? Recipe.FPS : fps,
                steps == null ? Recipe.STEPS : steps, shift == null ? Recipe.SHIFT : shift,
                seed == null ? randomSeed : seed,
                guidance == null ? new Nag(Recipe.NAG_SCALE, Recipe.NAG_TAU, Recipe.NAG_ALPHA) : guidance,
                loras == null ? List.copyOf(defaultLoras) : loras, previews == null || previews, null);
    }

    /**
     * What the prompt enhancer did for a request that asked for it.
     *
     * @param status         {@code enhanced} (the enhanced prompt is rendered) or {@code fallback} (the original is)
     * @param enhancedPrompt the enhancer's prompt; null on a fallback
     * @param model          the enhancer's model
     * @param reason         why it fell back; null when enhanced
     */
    public record Enhancement(String status, String enhancedPrompt, String model, String reason) {
        public static final String ENHANCED = "enhanced";
        public static final String FALLBACK = "fallback";

        public Enhancement {
            if (!ENHANCED.equals(status) && !FALLBACK.equals(status))
                throw new IllegalArgumentException("enhancement status must be enhanced or fallback, got " + status);
        }
    }

    /**
     * The request as run: the trigger phrase applied, the recipe's negative prompt, every default filled in.
     *
     * @param previews    whether the render publishes live previews
     * @param enhancement what the prompt enhancer did, or null when the request did not ask for it
     */
    public record Resolved(String prompt, boolean triggerAdded, String negativePrompt, int width, int height, int frames,
                           int fps, int steps, double shift, long seed, Guidance guidance, List<LoraRef> loras,
                           boolean previews, Enhancement enhancement) {
        /** With previews on and no enhancement. */
        public Resolved(String prompt, boolean triggerAdded, String negativePrompt, int width, int height, int frames,
                        int fps, int steps, double shift, long seed, Guidance guidance, List<LoraRef> loras) {
            this(prompt, triggerAdded, negativePrompt, width, height, frames, fps, steps, shift, seed, guidance, loras, true, null);
        }

        /** The same request, recording what the prompt enhancer did. */
        public Resolved withEnhancement(Enhancement e) {
            return new Resolved(prompt, triggerAdded, negativePrompt, width, height, frames, fps, steps, shift, seed, guidance, loras, previews, e);
        }

        /** Latent frames: (frames - 1)/4 + 1. */
        public int latentFrames() { return (frames - 1) / 4 + 1; }
    }
}
