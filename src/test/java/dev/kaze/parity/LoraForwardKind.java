package dev.kaze.parity;

import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.TensorSource;
import tools.jackson.databind.JsonNode;

/** Kind dit_lora_forward: dit_forward after merging every LoRA listed in the metadata. */
class LoraForwardKind implements ParityKind {
    /** The base checkpoint with the case's LoRA stack merged (the base itself when the list is empty). */
    static TensorSource withLoras(ParityCase c, Checkpoint base) {
        JsonNode loras = c.param("loras");
        if (loras == null || loras.isEmpty()) return base;
        throw new org.opentest4j.TestAbortedException("LoRA merging is not built yet");
    }

    @Override public void check(ParityCase c) {
        try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"));
             var dit = DitForwardKind.load(c, withLoras(c, ckpt), ckpt)) {
            DitForwardKind.assertForward(c, dit);
        }
    }
}
