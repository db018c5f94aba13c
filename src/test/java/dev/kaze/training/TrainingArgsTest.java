package dev.kaze.training;

import dev.kaze.json.Json;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
                 "sample_prompts": ["a --w 32", "b --f 5"], "gradient_checkpointing": false, "output_name": "ghibli-v2",
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
        assertEquals(3, a.notes().size(), a.notes().toString());
        assertTrue(a.notes().getFirst().contains("32-bit AdamW"));
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
        assertTrue(byField.get("rank").contains("unknown option"));
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
}
