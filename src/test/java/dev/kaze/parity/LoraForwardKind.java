package dev.kaze.parity;

import dev.kaze.pipeline.lora.LoraFile;
import dev.kaze.pipeline.lora.LoraStack;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.TensorSource;
import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** Kind dit_lora_forward: dit_forward after merging every LoRA listed in the metadata. */
class LoraForwardKind implements ParityKind {
    /** The base checkpoint with the case's LoRA stack merged; closing it closes the LoRA files. */
    record Merged(TensorSource source, List<LoraFile> files) implements AutoCloseable {
        @Override public void close() { files.forEach(LoraFile::close); }
    }

    static Merged withLoras(ParityCase c, Checkpoint base) {
        JsonNode loras = c.param("loras");
        List<LoraFile> files = new ArrayList<>();
        if (loras == null || loras.isEmpty()) return new Merged(base, files);
        List<LoraStack.Layer> layers = new ArrayList<>();
        for (JsonNode l : loras) {
            LoraFile f = LoraFile.read(c.fixtureDir().resolve(l.get("file").asString()), base);
            files.add(f);
            layers.add(new LoraStack.Layer(f, l.get("strength").asDouble()));
        }
        return new Merged(new LoraStack(layers).apply(base), files);
    }

    @Override public void check(ParityCase c) {
        try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"));
             Merged merged = withLoras(c, ckpt);
             var dit = DitForwardKind.load(c, merged.source(), ckpt)) {
            DitForwardKind.assertForward(c, dit);
        }
    }
}
