package dev.kaze.pipeline.lora;

/**
 * The key conventions a Wan LoRA file may use, told apart by the prefix of each stored name.
 * Which model key a name addresses is worked out by {@link LoraKeys}.
 */
public enum LoraFormat {
    /** kohya / musubi-tuner: {@code lora_unet_blocks_0_self_attn_q.lora_down.weight}, dots of the module name turned into underscores. */
    MUSUBI("musubi/kohya (lora_unet_*)"),
    /** ComfyUI / Kijai / lightx2v: {@code diffusion_model.blocks.0.self_attn.q.lora_down.weight}, original module names. */
    COMFY("ComfyUI/Kijai/lightx2v (diffusion_model.*)"),
    /** diffusers / PEFT: {@code transformer.blocks.0.attn1.to_q.lora_A.weight}, diffusers module names. */
    DIFFUSERS("diffusers/PEFT (transformer.*)"),
    /** No prefix at all: accepted where the name addresses exactly one model parameter. */
    BARE("unprefixed");

    private final String description;

    LoraFormat(String description) { this.description = description; }

    public String description() { return description; }

    /** The format a stored name belongs to. */
    public static LoraFormat of(String storedName) {
        if (storedName.startsWith("lora_unet_")) return MUSUBI;
        if (storedName.startsWith("diffusion_model.") || storedName.startsWith("model.diffusion_model.")) return COMFY;
        if (storedName.startsWith("transformer.") || storedName.startsWith("base_model.model.")) return DIFFUSERS;
        return BARE;
    }

    @Override public String toString() { return description; }
}
