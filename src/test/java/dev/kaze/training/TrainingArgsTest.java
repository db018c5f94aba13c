package dev.kaze.training;

import dev.kaze.json.Json;
import dev.kaze.tensor.WeightStorage;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainingArgsTest {
    private static final JsonMapper JSON = Json.MAPPER;

    private static JsonNode json(String s) { return JSON.readTree(s); }

    @Test void emptyObjectGivesTheReferenceRun() {
        TrainingArgs a = TrainingArgs.fromJson(json("{}"));
        assertEquals(32, a.networkDim());
        assertEquals(32.0, a.networkAlpha());
        assertEquals(5e-5, a.learningRate());
        assertEquals(50, a.maxTrainEpochs());
        assertEquals(2025, a.seed());
        assertEquals(3.0, a.discreteFlowShift());
        assertEquals(1.0, a.maxGradNorm());
        assertTrue(a.gradientCheckpointing());
        assertTrue(a.saveState());
        assertEquals(org.bytedeco.pytorch.global.torch.ScalarType.BFloat16.value, a.saveDtype().value);
        assertEquals(50 * 7, a.totalSteps(7));
        assertTrue(a.notes().isEmpty());
    }

    @Test void allOptionsRead() {
        TrainingArgs a = TrainingArgs.fromJson(json("""
                {"network_dim": 8, "network_alpha": 4, "learning_rate": 1e-4, "max_train_steps": 12, "seed": 9,
                 "discrete_flow_shift": 5, "max_grad_norm": 0, "save_every_n_steps": 5, "save_every_n_epochs": 2,
                 "sample_every_n_steps": 3, "sample_every_n_epochs": null, "sample_at_first": true,
                 "sample_prompts": ["a --w 32", "b --f 5"], "gradient_checkpointing": true, "output_name": "ghibli-v2",
                 "timestep_sampling": "shift", "optimizer_type": "AdamW8bit", "lr_scheduler": "constant", "save_state": false,
                 "mixed_precision": "bf16", "network_module": "networks.lora_wan", "save_precision": "float", "blocks_to_swap": 10,
                 "fp8_base": true, "fp8_scaled": true}"""));
        assertEquals(8, a.networkDim());
        assertEquals(12, a.totalSteps(100), "max_train_steps without max_train_epochs");
        assertEquals(0, a.maxTrainEpochs());
        assertEquals(List.of("a --w 32", "b --f 5"), a.samplePrompts());
        assertEquals(5, a.parsedSamplePrompts().get(1).frames());
        assertEquals(org.bytedeco.pytorch.global.torch.ScalarType.Float.value, a.saveDtype().value);
        assertTrue(a.adamw8bitRequested());
        assertEquals(3, a.notes().size(), a.notes().toString());   // what adamw8bit, fp8_base/fp8_scaled and blocks_to_swap do
        assertTrue(a.notes().get(0).startsWith("optimizer_type adamw8bit: 8-bit moments block-wise as bitsandbytes' AdamW8bit"), a.notes().get(0));
        assertTrue(a.notes().get(1).contains("float8 e4m3 with block-wise scales (64 columns), upcast per use"), a.notes().get(1));
        assertTrue(a.notes().get(2).startsWith("blocks_to_swap 10: the last 10 blocks"), a.notes().get(2));
        assertEquals(new WeightStorage(WeightStorage.Format.FP8_E4M3, new WeightStorage.Scaling.Blockwise(64)), a.fp8Storage());
    }

    @Test void blocksToSwapTakesACountOrAutoAndNeedsGradientCheckpointing() {
        assertTrue(TrainingArgs.fromJson(json("{\"blocks_to_swap\": \"auto\"}")).autoSwap());
        assertEquals(3, TrainingArgs.fromJson(json("{\"blocks_to_swap\": 3, \"gradient_checkpointing\": true}")).blocksToSwap());
        for (String bad : List.of("{\"blocks_to_swap\": 2, \"gradient_checkpointing\": false}",
                "{\"blocks_to_swap\": \"auto\", \"gradient_checkpointing\": false}")) {
            TrainingArgsException e = assertThrows(TrainingArgsException.class, () -> TrainingArgs.fromJson(json(bad)), bad);
            assertEquals("blocks_to_swap", e.problems().getFirst().field());
            assertTrue(e.problems().getFirst().message().contains("gradient_checkpointing: true"), e.problems().getFirst().message());
        }
        TrainingArgsException e = assertThrows(TrainingArgsException.class, () -> TrainingArgs.fromJson(json("{\"blocks_to_swap\": \"many\"}")));
        assertTrue(e.problems().getFirst().message().contains("\"auto\""), e.problems().getFirst().message());
        assertEquals(WeightStorage.perTensor(WeightStorage.Format.FP8_E4M3), TrainingArgs.fromJson(json("{\"fp8_base\": true}")).fp8Storage());
        assertNull(TrainingArgs.fromJson(json("{}")).fp8Storage());
    }

    @Test void epochsOverrideSteps() {
        TrainingArgs a = TrainingArgs.fromJson(json("{\"max_train_steps\": 1000, \"max_train_epochs\": 3}"));
        assertEquals(3 * 11, a.totalSteps(11));
        assertEquals(3, a.totalEpochs(11));
        assertEquals(4, TrainingArgs.fromJson(json("{\"max_train_steps\": 10}")).totalEpochs(3), "10 steps of 3 per epoch: 4 epochs, the last partial");
    }

    @Test void promptsAsOneStringOfLines() {
        TrainingArgs a = TrainingArgs.fromJson(json("{\"sample_prompts\": \"# prompts\\na cat --w 64\\n\\nb dog\"}"));
        assertEquals(List.of("a cat --w 64", "b dog"), a.samplePrompts());
    }

    @Test void everyProblemIsReportedAtOnce() {
        TrainingArgsException e = assertThrows(TrainingArgsException.class, () -> TrainingArgs.fromJson(json("""
                {"network_dim": 32.5, "learning_rate": "fast", "max_train_steps": 0, "rank": 4, "timestep_sampling": "sigma",
                 "optimizer_type": "prodigy", "lr_scheduler": "cosine", "network_module": "networks.lora", "output_name": "../x",
                 "sample_prompts": ["ok", 3, "x --w 9999"], "fp8_scaled": true, "gradient_checkpointing": "yes",
                 "discrete_flow_shift": -1, "blocks_to_swap": 40}""")));
        Map<String, String> byField = e.problems().stream().collect(Collectors.toMap(TrainingArgsException.Problem::field,
                TrainingArgsException.Problem::message, (x, y) -> x + " | " + y));
        assertEquals(java.util.Set.of("network_dim", "learning_rate", "max_train_steps", "rank", "timestep_sampling", "optimizer_type",
                "lr_scheduler", "network_module", "output_name", "sample_prompts[1]", "sample_prompts[2]", "fp8_scaled",
                "gradient_checkpointing", "discrete_flow_shift", "blocks_to_swap"), byField.keySet(), byField.toString());
        assertTrue(byField.get("network_dim").contains("integer"));
        assertTrue(byField.get("rank").contains("is not a musubi-tuner option") && byField.get("rank").contains("docs/training.md"), byField.get("rank"));
        assertTrue(byField.get("rank").length() < 200, "a short pointer, not the list of options: " + byField.get("rank"));
        assertTrue(byField.get("timestep_sampling").contains("only \"shift\""));
        assertTrue(byField.get("sample_prompts[2]").contains("--w"));
    }

    @Test void notAnObject() {
        TrainingArgsException e = assertThrows(TrainingArgsException.class, () -> TrainingArgs.fromJson(json("[1]")));
        assertEquals(1, e.problems().size());
    }

    @Test void firstFormStillWorks() {
        TrainingArgs a = new TrainingArgs(8, 8, 1e-2, 30, 2025, 3.0, 1.0, 12, "moving");
        assertEquals(30, a.totalSteps(3));
        assertFalse(a.gradientCheckpointing());
        assertTrue(a.saveState());
        assertThrows(TrainingArgsException.class, () -> new TrainingArgs(0, 8, 1e-2, 30, 2025, 3.0, 1.0, 12, "moving"));
    }

    /** Metadata values are written as Python's str() writes them (musubi's metadata is str()-ed). */
    @Test void pythonFloatStrings() {
        assertEquals("5e-05", LoraTrainer.py(5e-5));
        assertEquals("0.0001", LoraTrainer.py(1e-4));
        assertEquals("32.0", LoraTrainer.py(32));
        assertEquals("3.0", LoraTrainer.py(3.0));
        assertEquals("1.29", LoraTrainer.py(1.29));
        assertEquals("1.5e-06", LoraTrainer.py(1.5e-6));
        assertEquals("1e+16", LoraTrainer.py(1e16));
        assertEquals("1234567.5", LoraTrainer.py(1234567.5));
        assertEquals("True", LoraTrainer.py(true));
    }

    /** Every option of musubi-tuner's wan_train_network.py (parser_common.setup_parser_common + wan_setup_parser, musubi@30c658c). */
    static final List<String> MUSUBI_WAN_OPTIONS = List.of("config_file", "dataset_config", "sdpa", "flash_attn", "sage_attn",
            "xformers", "flash3", "split_attn", "compile", "compile_backend", "compile_mode", "compile_dynamic", "compile_fullgraph",
            "compile_cache_size_limit", "cuda_allow_tf32", "cuda_cudnn_benchmark", "dynamo_backend", "dynamo_mode", "dynamo_fullgraph",
            "dynamo_dynamic", "max_train_steps", "max_train_epochs", "max_data_loader_n_workers", "persistent_data_loader_workers",
            "seed", "gradient_checkpointing", "gradient_checkpointing_cpu_offload", "gradient_accumulation_steps", "mixed_precision",
            "save_precision", "logging_dir", "log_with", "log_prefix", "log_tracker_name", "wandb_run_name", "log_tracker_config",
            "wandb_api_key", "log_config", "ddp_timeout", "ddp_gradient_as_bucket_view", "ddp_static_graph", "sample_every_n_steps",
            "sample_at_first", "sample_every_n_epochs", "sample_prompts", "optimizer_type", "optimizer_args", "learning_rate",
            "max_grad_norm", "lr_scheduler", "lr_warmup_steps", "lr_decay_steps", "lr_scheduler_num_cycles", "lr_scheduler_power",
            "lr_scheduler_timescale", "lr_scheduler_min_lr_ratio", "lr_scheduler_type", "lr_scheduler_args", "fp8_base", "full_fp16",
            "full_bf16", "blocks_to_swap", "use_pinned_memory_for_block_swap", "block_swap_h2d_only", "block_swap_ring_size",
            "img_in_txt_in_offloading", "disable_numpy_memmap", "flow_shift", "guidance_scale", "timestep_sampling",
            "discrete_flow_shift", "sigmoid_scale", "weighting_scheme", "logit_mean", "logit_std", "mode_scale", "min_timestep",
            "max_timestep", "preserve_distribution_shape", "num_timestep_buckets", "show_timesteps", "no_metadata", "network_weights",
            "network_module", "network_dim", "network_alpha", "network_dropout", "network_args", "training_comment",
            "dim_from_weights", "scale_weight_norms", "base_weights", "base_weights_multiplier", "output_dir", "output_name", "resume",
            "save_every_n_epochs", "save_every_n_steps", "save_last_n_epochs", "save_last_n_epochs_state", "save_last_n_steps",
            "save_last_n_steps_state", "save_state", "save_state_on_train_end", "metadata_title", "metadata_author",
            "metadata_description", "metadata_license", "metadata_tags", "metadata_reso", "metadata_arch", "huggingface_repo_id",
            "huggingface_repo_type", "huggingface_path_in_repo", "huggingface_token", "huggingface_repo_visibility",
            "save_state_to_huggingface", "resume_from_huggingface", "async_upload", "dit", "vae", "vae_dtype",
            "task", "fp8_scaled", "t5", "fp8_t5", "clip", "vae_cache_cpu", "one_frame", "force_v2_1_time_embedding", "dit_high_noise",
            "timestep_boundary", "offload_inactive_dit");

    @Test void everyMusubiWanOptionIsAcceptedUnset() {
        assertEquals(133, MUSUBI_WAN_OPTIONS.size());
        for (String option : MUSUBI_WAN_OPTIONS)
            TrainingArgs.fromJson(json("{\"" + option + "\": null}"));   // throws for a name Kaze does not know
    }

    @Test void theAuthorsOptionsPasteAsTheyAreAndTheOnesWithoutMeaningHereAreNoted() {
        String pasted = """
                {"task": "t2v-14B", "dit": "wan2.1_t2v_14B_bf16.safetensors", "vae": "wan_2.1_vae.safetensors",
                 "t5": "models_t5_umt5-xxl-enc-bf16.pth", "sdpa": true, "blocks_to_swap": 10, "mixed_precision": "bf16",
                 "fp8_base": true, "fp8_scaled": true, "fp8_t5": true, "optimizer_type": "adamw8bit", "learning_rate": 5e-5,
                 "gradient_checkpointing": true, "network_module": "networks.lora_wan", "network_dim": 32, "network_alpha": 32,
                 "timestep_sampling": "shift", "discrete_flow_shift": 3.0, "save_every_n_epochs": 1, "seed": 2025,
                 "max_train_epochs": 50, "sample_every_n_epochs": 1, "save_state": true, "max_data_loader_n_workers": 2,
                 "persistent_data_loader_workers": true, "log_with": "tensorboard", "logging_dir": "logs",
                 "training_comment": "ghibli", "metadata_author": "someone"}""";
        TrainingArgs a = TrainingArgs.fromJson(json(pasted));
        assertTrue(a.fp8Base() && a.fp8Scaled());
        assertEquals(Map.of("ss_training_comment", "ghibli", "modelspec.author", "someone"), a.modelMetadata());
        List<String> notes = TrainingArgs.notes(json(pasted));
        for (String noted : List.of("task", "dit", "vae", "t5", "sdpa", "fp8_t5", "max_data_loader_n_workers",
                "persistent_data_loader_workers", "log_with", "logging_dir"))
            assertTrue(notes.stream().anyMatch(n -> n.startsWith(noted + " has no effect here: ")), noted + " in " + notes);
        assertTrue(notes.stream().noneMatch(n -> n.startsWith("learning_rate") || n.startsWith("fp8_base has no effect")), notes.toString());
    }

    @Test void optionsThatWouldChangeTheTrainingAreAcceptedOnlyAtMusubisDefault() {
        TrainingArgs.fromJson(json("{\"lr_warmup_steps\": 0, \"gradient_accumulation_steps\": 1, \"weighting_scheme\": \"none\", \"full_bf16\": false}"));
        TrainingArgsException e = assertThrows(TrainingArgsException.class, () -> TrainingArgs.fromJson(json(
                "{\"lr_warmup_steps\": 100, \"gradient_accumulation_steps\": 4, \"network_dimm\": 4}")));
        Map<String, String> byField = e.problems().stream().collect(Collectors.toMap(TrainingArgsException.Problem::field,
                TrainingArgsException.Problem::message));
        assertEquals(java.util.Set.of("lr_warmup_steps", "gradient_accumulation_steps", "network_dimm"), byField.keySet());
        assertTrue(byField.get("lr_warmup_steps").contains("constant"), byField.toString());
        assertTrue(byField.get("network_dimm").contains("did you mean network_dim?"), byField.toString());
    }
}
