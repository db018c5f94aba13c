package dev.kaze.pipeline.lora;

import dev.kaze.parity.ParityCase;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.ShapeManifest;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static dev.kaze.pipeline.lora.LoraFileTest.DIR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The merge of the dit_lora_forward stack (lora_musubi ×1.0, lora_comfy ×0.9, lora_diffusers ×0.6)
 * checked against the same sum computed here from the raw file tensors, in float64, with the
 * names of each format written out by hand.
 */
class LoraStackTest {
    static final Device CPU = new Device(torch.DeviceType.CPU);
    static Checkpoint dit;
    /** file name → strength, from the case's metadata. */
    static final Map<String, Double> STRENGTHS = new LinkedHashMap<>();
    static final Map<String, LoraFile> FILES = new LinkedHashMap<>();

    PointerScope scope;
    @TempDir Path tmp;

    @BeforeAll static void open() {
        dit = Checkpoint.open(DIR.resolve("dit.safetensors"));
        try (ParityCase c = ParityCase.open(DIR.resolve("cases/dit_lora_forward.safetensors"))) {
            for (JsonNode l : c.param("loras")) STRENGTHS.put(l.get("file").asString(), l.get("strength").asDouble());
        }
        assertEquals(Map.of("lora_musubi.safetensors", 1.0, "lora_comfy.safetensors", 0.9, "lora_diffusers.safetensors", 0.6), STRENGTHS);
        for (String f : STRENGTHS.keySet()) FILES.put(f, LoraFile.read(DIR.resolve(f), dit));
    }

    @AfterAll static void close() {
        FILES.values().forEach(LoraFile::close);
        dit.close();
    }

    @BeforeEach void scope() { scope = new PointerScope(); }

    @AfterEach void closeScope() { scope.close(); }

    static LoraStack stack(String... order) {
        List<LoraStack.Layer> layers = new ArrayList<>();
        for (String f : order) layers.add(new LoraStack.Layer(FILES.get(f), STRENGTHS.get(f)));
        return new LoraStack(layers);
    }

    static LoraStack caseStack() { return stack(STRENGTHS.keySet().toArray(String[]::new)); }

    // ---- the independent expectation -------------------------------------------------------

    /** diffusers module name of an original block Linear, written out from the diffusers conversion table. */
    static String diffusersName(String module) {
        String[] p = module.split("\\.", 3);   // blocks, i, rest
        String rest = switch (p[2]) {
            case "self_attn.q" -> "attn1.to_q";
            case "self_attn.k" -> "attn1.to_k";
            case "self_attn.v" -> "attn1.to_v";
            case "self_attn.o" -> "attn1.to_out.0";
            case "cross_attn.q" -> "attn2.to_q";
            case "cross_attn.k" -> "attn2.to_k";
            case "cross_attn.v" -> "attn2.to_v";
            case "cross_attn.o" -> "attn2.to_out.0";
            case "ffn.0" -> "ffn.net.0.proj";
            case "ffn.2" -> "ffn.net.2";
            default -> null;
        };
        return rest == null ? null : "transformer.blocks." + p[1] + "." + rest;
    }

    /** W + strength · (alpha/rank or 1) · up @ down, in float64, where raw holds the pair. */
    static Tensor addPair(Tensor w, SafetensorsFile raw, String down, String up, String alpha, double strength) {
        if (!raw.entries().containsKey(down)) return w;
        Tensor d = raw.tensor(down).to(ScalarType.Double), u = raw.tensor(up).to(ScalarType.Double);
        double scale = 1.0;
        if (alpha != null && raw.entries().containsKey(alpha))
            scale = raw.tensor(alpha).item_double() / d.size(0);
        return w.add(u.matmul(d), new Scalar(strength * scale));
    }

    static Tensor addDiff(Tensor w, SafetensorsFile raw, String name, double strength) {
        if (!raw.entries().containsKey(name)) return w;
        return w.add(raw.tensor(name).to(ScalarType.Double), new Scalar(strength));
    }

    /** The expected merged value of one DiT key, from the raw files. */
    static Tensor expected(String key) {
        Tensor w = dit.load(key).to(ScalarType.Double);
        boolean weight = key.endsWith(".weight"), bias = key.endsWith(".bias");
        String module = weight ? key.substring(0, key.length() - 7) : bias ? key.substring(0, key.length() - 5) : key;
        try (SafetensorsFile musubi = SafetensorsFile.open(DIR.resolve("lora_musubi.safetensors"));
             SafetensorsFile comfy = SafetensorsFile.open(DIR.resolve("lora_comfy.safetensors"));
             SafetensorsFile diffusers = SafetensorsFile.open(DIR.resolve("lora_diffusers.safetensors"))) {
            if (weight) {
                String m = "lora_unet_" + module.replace('.', '_');
                w = addPair(w, musubi, m + ".lora_down.weight", m + ".lora_up.weight", m + ".alpha", 1.0);
                String c = "diffusion_model." + module;
                w = addPair(w, comfy, c + ".lora_down.weight", c + ".lora_up.weight", c + ".alpha", 0.9);
                w = addDiff(w, comfy, c + ".diff", 0.9);
                String d = module.startsWith("blocks.") ? diffusersName(module) : null;
                if (d != null) w = addPair(w, diffusers, d + ".lora_A.weight", d + ".lora_B.weight", null, 0.6);
            }
            if (bias) w = addDiff(w, comfy, "diffusion_model." + module + ".diff_b", 0.9);
        }
        return w;
    }

    // ---- tests -------------------------------------------------------------------------------

    @Test void musubiAlphaIsTwoAndRankFour() {
        try (SafetensorsFile raw = SafetensorsFile.open(DIR.resolve("lora_musubi.safetensors"))) {
            assertEquals(2.0, raw.tensor("lora_unet_blocks_0_self_attn_q.alpha").item_double());
            assertEquals(4, raw.entry("lora_unet_blocks_0_self_attn_q.lora_down.weight").spec().shape()[0]);
        }
    }

    @Test void mergedWeightsEqualTheSumComputedFromTheRawFiles() {
        TensorSource merged = caseStack().apply(dit);
        Set<String> changed = new TreeSet<>();
        for (String key : dit.keys()) {
            try (PointerScope s = new PointerScope()) {
                Tensor actual = merged.load(key), base = dit.load(key), want = expected(key);
                assertEquals(dit.spec(key), merged.spec(key), key);
                assertEquals(ScalarType.Float, actual.scalar_type().intern(), key);
                ParityCase.assertClose(key, actual, want, 1e-6, 1e-6);
                if (!actual.equal(base)) changed.add(key);
            }
        }
        Set<String> expectedChanged = new TreeSet<>(LoraFileTest.blockLinears(".weight"));
        expectedChanged.addAll(LoraFileTest.blockLinears(".bias"));
        expectedChanged.addAll(List.of("blocks.0.norm3.weight", "blocks.1.norm3.weight"));
        assertEquals(expectedChanged, changed);
        assertEquals(expectedChanged, new TreeSet<>(caseStack().targets()));
        assertEquals(dit.keys(), merged.keys());
    }

    @Test void stackingOrderDoesNotMatter() {
        TensorSource a = caseStack().apply(dit);
        TensorSource b = stack("lora_diffusers.safetensors", "lora_musubi.safetensors", "lora_comfy.safetensors").apply(dit);
        TensorSource c = stack("lora_comfy.safetensors", "lora_diffusers.safetensors", "lora_musubi.safetensors").apply(dit);
        for (String key : caseStack().targets()) {
            try (PointerScope s = new PointerScope()) {
                Tensor x = a.load(key);
                ParityCase.assertClose(key + " (diffusers, musubi, comfy)", b.load(key), x, 1e-6, 0);
                ParityCase.assertClose(key + " (comfy, diffusers, musubi)", c.load(key), x, 1e-6, 0);
            }
        }
    }

    @Test void deltaIsTheMergedMinusTheBase() {
        LoraStack stack = caseStack();
        for (String key : List.of("blocks.0.self_attn.q.weight", "blocks.1.ffn.2.weight", "blocks.1.norm3.weight", "blocks.0.ffn.0.bias")) {
            Tensor delta = stack.delta(key, CPU);
            Tensor want = expected(key).sub(dit.load(key).to(ScalarType.Double));
            ParityCase.assertClose(key, delta, want, 1e-6, 1e-6);
        }
        assertThrows(WeightsException.class, () -> stack.delta("blocks.0.modulation", CPU));
        Tensor one = FILES.get("lora_comfy.safetensors").delta("blocks.0.norm3.weight", CPU);
        try (SafetensorsFile raw = SafetensorsFile.open(DIR.resolve("lora_comfy.safetensors"))) {
            assertTrue(one.equal(raw.tensor("diffusion_model.blocks.0.norm3.diff")));
        }
    }

    @Test void aZeroStrengthLayerChangesNothing() {
        LoraFile musubi = FILES.get("lora_musubi.safetensors");
        TensorSource merged = new LoraStack(List.of(new LoraStack.Layer(musubi, 0.0))).apply(dit);
        Tensor base = dit.load("blocks.0.self_attn.q.weight");
        assertTrue(merged.load("blocks.0.self_attn.q.weight").equal(base));
    }

    @Test void nonFiniteStrengthsAreRefused() {
        LoraFile musubi = FILES.get("lora_musubi.safetensors");
        for (double s : new double[]{Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LoraStack.Layer(musubi, s));
            assertTrue(e.getMessage().contains(musubi.path().toString()) && e.getMessage().contains("finite"), e.getMessage());
        }
    }

    @Test void theMergeIsCastBackToTheBaseDtypeOnce() {
        LoraStack stack = caseStack();
        String key = "blocks.1.cross_attn.o.weight";
        Tensor bf16 = dit.load(key).to(ScalarType.BFloat16);
        Tensor merged = stack.merge(key, bf16);
        assertEquals(ScalarType.BFloat16, merged.scalar_type().intern());
        Tensor want = expected(key).sub(dit.load(key).to(ScalarType.Double)).add(bf16.to(ScalarType.Double))
                .to(ScalarType.Float).to(ScalarType.BFloat16);
        ParityCase.assertClose(key, merged, want, 0, 1.0 / 128);   // at most one bf16 rounding step apart
    }

    @Test void aShapeManifestPassesThroughAndAMismatchedOneIsRefused() {
        Map<String, TensorSpec> specs = new LinkedHashMap<>();
        for (String k : dit.keys()) specs.put(k, dit.spec(k));
        TensorSource meta = caseStack().apply(new ShapeManifest("dit manifest", specs));
        Tensor q = meta.load("blocks.0.self_attn.q.weight");
        assertTrue(q.device().is_meta(), "meta in, meta out");

        specs.put("blocks.1.ffn.0.weight", new TensorSpec(dev.kaze.tensor.DType.F32, new long[]{256, 64}));
        specs.remove("blocks.0.norm3.weight");
        WeightsException e = assertThrows(WeightsException.class, () -> caseStack().apply(new ShapeManifest("other manifest", specs)));
        assertTrue(e.getMessage().contains("'blocks.1.ffn.0.weight' with shape [128, 64], but it has shape [256, 64]"), e.getMessage());
        assertTrue(e.getMessage().contains("'blocks.0.norm3.weight', which other manifest does not have"), e.getMessage());
    }

    @Test void peftBiasAndLightx2vModulationDeltasMerge() throws Exception {
        Tensor a = torch.randn(2, 64), b = torch.randn(64, 2), bb = torch.randn(64), dm = torch.randn(1, 6, 64);
        Path file = new CraftedLora()
                .put("base_model.model.blocks.0.attn1.to_q.lora_A.default.weight", a)
                .put("base_model.model.blocks.0.attn1.to_q.lora_B.default.weight", b)
                .put("base_model.model.blocks.0.attn1.to_q.lora_B.default.bias", bb)
                .put("diffusion_model.blocks.1.diff_m", dm)
                .write(tmp.resolve("peft.safetensors"));
        try (LoraFile f = LoraFile.read(file, dit)) {
            TensorSource merged = new LoraStack(List.of(new LoraStack.Layer(f, -0.5))).apply(dit);
            ParityCase.assertClose("q.weight", merged.load("blocks.0.self_attn.q.weight"),
                    dit.load("blocks.0.self_attn.q.weight").add(b.matmul(a), new Scalar(-0.5)), 1e-6, 1e-6);
            ParityCase.assertClose("q.bias", merged.load("blocks.0.self_attn.q.bias"),
                    dit.load("blocks.0.self_attn.q.bias").add(bb, new Scalar(-0.5)), 1e-6, 1e-6);
            ParityCase.assertClose("modulation", merged.load("blocks.1.modulation"),
                    dit.load("blocks.1.modulation").add(dm, new Scalar(-0.5)), 1e-6, 1e-6);
            assertSame(null, merged.spec("nope"));
        }
    }
}
