package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * The LoRA author's published recipe (shared/reference/recipe.md), which Kaze uses as its defaults.
 */
public final class Recipe {
    private Recipe() {}

    /** Every training caption starts with it; prompts without it get it prefixed. */
    public static final String TRIGGER = "Studio Ghibli style.";

    /** Always part of the negative prompt; a request's negative prompt is appended to it. */
    public static final String NEGATIVE_PROMPT = "色调艳丽,过曝,静态,细节模糊不清,字幕,风格,作品,画作,画面,静止,整体发灰,最差质量,低质量,"
            + "JPEG压缩残留,丑陋的,残缺的,多余的手指,画得不好的手部,画得不好的脸部,畸形的,毁容的,形态畸形的肢体,手指融合,"
            + "静止不动的画面,杂乱的背景,三条腿,背景人很多,倒着走, 3D, MMD, MikuMikuDance, SFM, Source Filmmaker, Blender, "
            + "Unity, Unreal, CGI, bad quality";

    public static final int WIDTH = 640;
    public static final int HEIGHT = 480;
    public static final int FRAMES = 81;
    public static final int FPS = 16;
    public static final int STEPS = 8;
    public static final double SHIFT = 5.0;
    public static final double NAG_SCALE = 11.0, NAG_TAU = 2.5, NAG_ALPHA = 0.25;

    /** Catalog names of the default LoRA stack: the style LoRA at 1.0 on the lightx2v step-distill LoRA at 0.9. */
    public static final String STYLE_LORA = "ghibli";
    public static final double STYLE_STRENGTH = 1.0;
    public static final String DISTILL_LORA = "lightx2v";
    public static final double DISTILL_STRENGTH = 0.9;

    /** The recipe's LoRA stack, of the two LoRAs this catalog has (none for a catalog without them). */
    public static List<GenerateRequest.LoraRef> defaultLoras(LoraCatalog catalog) {
        List<GenerateRequest.LoraRef> defaults = new ArrayList<>();
        if (catalog.has(STYLE_LORA)) defaults.add(new GenerateRequest.LoraRef(STYLE_LORA, STYLE_STRENGTH));
        if (catalog.has(DISTILL_LORA)) defaults.add(new GenerateRequest.LoraRef(DISTILL_LORA, DISTILL_STRENGTH));
        return List.copyOf(defaults);
    }

    /** The model id the API reports for a DiT of this configuration. */
    public static String modelId(DitConfig c) {
        return c.dim() == 5120 ? "wan2.1-t2v-14b" : c.dim() == 1536 ? "wan2.1-t2v-1.3b" : "wan2.1-t2v";
    }

    /** The prompt with the trigger phrase in front, unless it already starts with it (case-insensitive). */
    public static String withTrigger(String prompt) {
        String p = prompt.strip();
        if (p.regionMatches(true, 0, TRIGGER, 0, TRIGGER.length())) return p;
        return TRIGGER + " " + p;
    }

    /** The recipe's negative prompt followed by the request's own, if any. */
    public static String negativePrompt(String extra) {
        return extra == null || extra.isBlank() ? NEGATIVE_PROMPT : NEGATIVE_PROMPT + ", " + extra.strip();
    }
}
