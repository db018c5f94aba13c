package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.tensor.SafetensorsWriter;
import dev.kaze.training.LoraNetwork;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Two musubi-format LoRAs for the preview DiT, written for the LoRA switching tests, and their helpers. */
final class PreviewLoras {
    private PreviewLoras() {}

    /** Module paths of "styleA" (self_attn.q, cross_attn.o, ffn.0 of every block) and "styleB" (self_attn.q, ffn.2 of block 0). */
    record Targets(List<String> a, List<String> b) {}

    /** Writes styleA.safetensors and styleB.safetensors into loraDir. */
    static Targets write(Path loraDir) {
        DitConfig cfg = PreviewModel.DIT;
        List<String> a = new ArrayList<>(), b = new ArrayList<>(List.of("blocks.0.self_attn.q", "blocks.0.ffn.2"));
        for (int i = 0; i < cfg.numLayers(); i++) a.addAll(List.of("blocks." + i + ".self_attn.q", "blocks." + i + ".cross_attn.o", "blocks." + i + ".ffn.0"));
        write(loraDir, "styleA", a, 11);
        write(loraDir, "styleB", b, 22);
        return new Targets(List.copyOf(a), List.copyOf(b));
    }

    private static void write(Path loraDir, String name, List<String> paths, long seed) {
        DitConfig cfg = PreviewModel.DIT;
        long rank = 4;
        try (PointerScope scope = new PointerScope()) {
            GeneratorOptional gen = new GeneratorOptional(torch.make_generator_cpu(seed));
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String path : paths) {
                long in = path.endsWith("ffn.2") ? cfg.ffnDim() : cfg.dim();
                long out = path.endsWith("ffn.0") ? cfg.ffnDim() : cfg.dim();
                String n = LoraNetwork.loraName(path);   // musubi: lora_unet_blocks_0_self_attn_q
                tensors.put(n + ".lora_down.weight", torch.randn(new long[]{rank, in}, gen, new TensorOptions(ScalarType.Float)).mul(torch.scalar_tensor(new Scalar(0.3))));
                tensors.put(n + ".lora_up.weight", torch.randn(new long[]{out, rank}, gen, new TensorOptions(ScalarType.Float)).mul(torch.scalar_tensor(new Scalar(0.3))));
                tensors.put(n + ".alpha", torch.scalar_tensor(new Scalar((double) rank)));
            }
            SafetensorsWriter.write(loraDir.resolve(name + ".safetensors"), tensors);
        }
    }

    static List<GenerateRequest.LoraRef> stack(Object... nameStrength) {
        List<GenerateRequest.LoraRef> refs = new ArrayList<>();
        for (int i = 0; i < nameStrength.length; i += 2)
            refs.add(new GenerateRequest.LoraRef((String) nameStrength[i], ((Number) nameStrength[i + 1]).doubleValue()));
        return refs;
    }

    /** The frames of one small fixed request with this stack. */
    static byte[] frames(WanPipeline p, List<GenerateRequest.LoraRef> loras) {
        GenerateRequest req = new GenerateRequest("Studio Ghibli style. a lighthouse at dusk", null, 32, 32, 5, 16, 3, 5.0, 5L,
                new Guidance.None(), loras);
        return p.generate(req, GenerationListener.NONE, () -> false).rgb();
    }
}
