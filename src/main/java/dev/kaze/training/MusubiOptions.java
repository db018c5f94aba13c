package dev.kaze.training;

import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every option musubi-tuner's {@code wan_train_network.py} takes (its shared parser,
 * {@code training/parser_common.py setup_parser_common}, plus {@code wan_setup_parser}; kohya-ss/musubi-tuner@30c658c,
 * the same names as the 2025-03 {@code hv_train_network.py}), so an author's option list can be pasted as it is.
 * {@link TrainingArgs} applies the options it names; of the others, those that only say how musubi's host process
 * runs (attention backend, data-loader workers, compile, logging, model paths, uploads) have no effect here and are
 * reported in the run's notes; those that would change the training are accepted only at musubi's default value.
 * Kaze's own additions ({@code validate_every_n_steps}, {@code validate_every_n_epochs}) are applied by
 * {@link TrainingArgs} too.
 */
public final class MusubiOptions {
    private MusubiOptions() {}

    /** Where the option's name points users for the list. */
    public static final String DOCS = "docs/training.md § musubi options";

    /** How Kaze treats an option {@link TrainingArgs} does not apply. */
    private sealed interface Use permits NoEffect, DefaultOnly {}

    /** Accepted with any value; the note says why it changes nothing here. */
    private record NoEffect(String why) implements Use {}

    /** Accepted at musubi's default (or null/false/empty); any other value is refused with the reason. */
    private record DefaultOnly(Object musubiDefault, String why) implements Use {}

    private static final Map<String, Use> OTHERS = new LinkedHashMap<>();

    private static void noEffect(String why, String... names) { for (String n : names) OTHERS.put(n, new NoEffect(why)); }

    private static void defaultOnly(Object dflt, String why, String... names) { for (String n : names) OTHERS.put(n, new DefaultOnly(dflt, why)); }

    static {
        noEffect("the options are this JSON object", "config_file");
        noEffect("the dataset config is the request's dataset_config (or the dataset's own dataset.toml)", "dataset_config");
        noEffect("Kaze's attention is libtorch's scaled_dot_product_attention", "sdpa", "flash_attn", "sage_attn", "xformers", "flash3",
                "split_attn");
        noEffect("Kaze does not use torch.compile or TorchDynamo", "compile", "compile_backend", "compile_mode", "compile_dynamic",
                "compile_fullgraph", "compile_cache_size_limit", "dynamo_backend", "dynamo_mode", "dynamo_fullgraph", "dynamo_dynamic");
        noEffect("the CUDA math settings are the server's", "cuda_allow_tf32", "cuda_cudnn_benchmark");
        noEffect("the cached latents and text encodings are read in the training thread; there are no data-loader workers",
                "max_data_loader_n_workers", "persistent_data_loader_workers");
        noEffect("Kaze always writes the step log ({output_name}.log.jsonl) and TensorBoard event files to the training's files; "
                + "there is no other tracker", "logging_dir", "log_with", "log_prefix", "log_tracker_name", "wandb_run_name",
                "log_tracker_config", "wandb_api_key", "log_config");
        noEffect("a training runs on one device", "ddp_timeout", "ddp_gradient_as_bucket_view", "ddp_static_graph");
        noEffect("where the DiT's weights live is the server's choice", "use_pinned_memory_for_block_swap", "block_swap_h2d_only",
                "block_swap_ring_size", "img_in_txt_in_offloading", "disable_numpy_memmap", "offload_inactive_dit", "vae_cache_cpu");
        noEffect("it is used by inference schedulers, not by training", "flow_shift");
        noEffect("Wan2.1 has no embedded guidance (a HunyuanVideo option)", "guidance_scale");
        noEffect("it is used only by timestep samplings other than \"shift\"", "sigmoid_scale", "logit_mean", "logit_std", "mode_scale");
        noEffect("Kaze does not print timestep statistics", "show_timesteps");
        noEffect("outputs go to the training's files (GET /v1/trainings/{id}/files)", "output_dir");
        noEffect("a stopped training continues with POST /v1/trainings/{id}/resume", "resume");
        noEffect("every saved LoRA and state is kept; delete the files you do not need", "save_last_n_epochs", "save_last_n_epochs_state",
                "save_last_n_steps", "save_last_n_steps_state");
        noEffect("a state is saved at the end when save_state is on, and whenever a training is stopped", "save_state_on_train_end");
        noEffect("Kaze uploads nothing; download the files from the training", "huggingface_repo_id", "huggingface_repo_type",
                "huggingface_path_in_repo", "huggingface_token", "huggingface_repo_visibility", "save_state_to_huggingface",
                "resume_from_huggingface", "async_upload");
        noEffect("the models are the server's (kaze.models)", "dit", "vae", "vae_dtype", "t5", "fp8_t5", "clip", "task");
        noEffect("the LoRA metadata records Kaze's base model", "metadata_reso", "metadata_arch");

        defaultOnly(false, "Kaze keeps checkpointed activations on the device", "gradient_checkpointing_cpu_offload");
        defaultOnly(1, "Kaze makes one optimizer step per batch", "gradient_accumulation_steps");
        defaultOnly(null, "AdamW runs with torch's defaults (betas 0.9/0.999, eps 1e-8, weight_decay 0.01)", "optimizer_args");
        defaultOnly(0, "the learning rate is constant", "lr_warmup_steps", "lr_decay_steps");
        defaultOnly(1, "the learning rate is constant", "lr_scheduler_num_cycles", "lr_scheduler_power");
        defaultOnly(null, "the learning rate is constant", "lr_scheduler_timescale", "lr_scheduler_min_lr_ratio", "lr_scheduler_args");
        defaultOnly("", "the learning rate is constant", "lr_scheduler_type");
        defaultOnly(false, "the LoRA trains in float32 with bf16 autocast (mixed_precision)", "full_fp16", "full_bf16");
        defaultOnly("none", "the loss is not weighted by timestep", "weighting_scheme");
        defaultOnly(null, "timesteps are drawn over the whole range", "min_timestep", "max_timestep", "num_timestep_buckets");
        defaultOnly(false, "timesteps are drawn over the whole range", "preserve_distribution_shape");
        defaultOnly(false, "every LoRA carries its training metadata", "no_metadata");
        defaultOnly(null, "a training starts from a fresh LoRA (continue one with POST /v1/trainings/{id}/resume)", "network_weights",
                "base_weights", "base_weights_multiplier");
        defaultOnly(false, "a training starts from a fresh LoRA", "dim_from_weights");
        defaultOnly(null, "networks.lora_wan runs without dropout, extra network_args or max-norm regularisation", "network_dropout",
                "network_args", "scale_weight_norms");
        defaultOnly(false, "Kaze trains Wan2.1 text-to-video, sampling whole clips", "one_frame", "force_v2_1_time_embedding");
        defaultOnly(null, "Kaze trains one Wan2.1 DiT (no Wan2.2 high-noise model)", "dit_high_noise", "timestep_boundary");
    }

    /** Whether name is one of musubi's options that {@link TrainingArgs} does not apply itself. */
    static boolean isOther(String name) { return OTHERS.containsKey(name); }

    /** The names of the options with no effect here or accepted at their default only, in musubi's order. */
    public static List<String> others() { return List.copyOf(OTHERS.keySet()); }

    /** A refusal of a value other than musubi's default, or null when the value is accepted. */
    static String refusal(String name, JsonNode value) {
        if (!(OTHERS.get(name) instanceof DefaultOnly d) || isDefault(value, d.musubiDefault())) return null;
        return "Kaze runs only musubi's default (" + (d.musubiDefault() == null ? "unset" : d.musubiDefault().toString().isEmpty()
                ? "\"\"" : d.musubiDefault()) + "): " + d.why() + "; remove the option";
    }

    /** The notes for the given options that have no effect here (one per option, in the order given). */
    static List<String> notes(JsonNode args) {
        List<String> notes = new ArrayList<>();
        if (args == null || !args.isObject()) return notes;
        for (var e : args.properties())
            if (OTHERS.get(e.getKey()) instanceof NoEffect n) notes.add(e.getKey() + " has no effect here: " + n.why());
        return notes;
    }

    private static boolean isDefault(JsonNode v, Object dflt) {
        if (v == null || v.isNull()) return true;
        if (v.isBoolean() && !v.booleanValue()) return true;
        if ((v.isArray() || v.isObject()) && v.isEmpty()) return true;
        if (v.isString() && v.stringValue().isEmpty()) return true;
        if (dflt instanceof Integer i) return v.isNumber() && v.doubleValue() == i;
        if (dflt instanceof String s) return v.isString() && v.stringValue().equals(s);
        return false;
    }
}
