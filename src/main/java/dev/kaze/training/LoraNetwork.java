// Port of musubi-tuner networks/lora.py (LoRAModule, LoRANetwork) with the Wan targets of networks/lora_wan.py.
package dev.kaze.training;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.SafetensorsWriter;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static dev.kaze.tensor.Ops.s;

/**
 * A trainable LoRA on every Linear of every DiT block (q, k, v, o of self- and cross-attention,
 * ffn.0, ffn.2: ten per block), applied unmerged: y = W x + b + up(down(x)) · alpha/rank.
 * down [rank, in] and up [out, rank] are float32 leaf tensors with requires_grad; the base
 * model stays frozen. Parameters are named with musubi's saved keys
 * ({@code lora_unet_blocks_0_self_attn_q.lora_down.weight}).
 */
public final class LoraNetwork implements AutoCloseable {
    /** The Linears LoRA wraps inside each block, by module path below {@code blocks.N.}. */
    public static final List<String> BLOCK_LINEARS = List.of(
            "self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
            "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2");

    /** One wrapped Linear: name is musubi's lora_name, path the module path in the DiT. */
    public record Module(String name, String path, Tensor down, Tensor up, double alpha) {
        public long rank() { return down.size(0); }

        /** alpha / rank, the factor on up(down(x)). */
        public double scale() { return alpha / rank(); }

        public String downKey() { return name + ".lora_down.weight"; }

        public String upKey() { return name + ".lora_up.weight"; }

        public String alphaKey() { return name + ".alpha"; }

        /** x: [..., in] in the Linear's compute dtype -> [..., out]; the float32 masters are cast to x's dtype. */
        Tensor forward(Tensor x) {
            ScalarType dt = x.scalar_type();
            Tensor h = torch.linear(x, down.to(dt));        // h: [..., rank]
            return torch.linear(h, up.to(dt)).mul(s(scale())); // [..., out]
        }
    }

    private final Map<String, Module> byPath;
    private final double multiplier;
    private boolean closed;

    private LoraNetwork(List<Module> modules) {
        Map<String, Module> m = new LinkedHashMap<>();
        for (Module mod : modules) {
            mod.down.retainReference();
            mod.up.retainReference();
            m.put(mod.path, mod);
        }
        this.byPath = m;
        this.multiplier = 1.0;
    }

    /** musubi's name for a module path: "lora_unet_" + path with dots as underscores. */
    public static String loraName(String path) { return "lora_unet_" + path.replace('.', '_'); }

    private static List<String> paths(DitConfig cfg) {
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < cfg.numLayers(); i++) for (String l : BLOCK_LINEARS) paths.add("blocks." + i + "." + l);
        return paths;
    }

    private static long[] inOut(DitConfig cfg, String path) {
        long c = cfg.dim(), f = cfg.ffnDim();
        if (path.endsWith("ffn.0")) return new long[]{c, f};
        if (path.endsWith("ffn.2")) return new long[]{f, c};
        return new long[]{c, c};
    }

    private static Tensor leaf(Tensor t, Device device) {
        return t.to(device, ScalarType.Float).detach().clone().requires_grad_(true);
    }

    /**
     * A fresh LoRA as musubi initialises it: down ~ U(−1/√in, 1/√in) (kaiming_uniform_ with
     * a = √5), up = 0, so the network adds nothing before the first step. alpha ≤ 0 means alpha = rank.
     */
    public static LoraNetwork create(DitConfig cfg, int rank, double alpha, long seed, Device device) {
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be at least 1, got " + rank);
        double a = alpha > 0 ? alpha : rank;
        try (PointerScope scope = new PointerScope()) {
            Generator gen = torch.make_generator_cpu();
            gen.set_current_seed(seed);
            List<Module> modules = new ArrayList<>();
            for (String path : paths(cfg)) {
                long[] io = inOut(cfg, path);
                double bound = 1.0 / Math.sqrt(io[0]);
                Tensor down = torch.empty(new long[]{rank, io[0]}, new TensorOptions(ScalarType.Float), new MemoryFormatOptional())
                        .uniform_(-bound, bound, new GeneratorOptional(gen));
                Tensor up = torch.zeros(new long[]{io[1], rank}, new TensorOptions(ScalarType.Float));
                modules.add(new Module(loraName(path), path, leaf(down, device), leaf(up, device), a));
            }
            return new LoraNetwork(modules);
        }
    }

    /**
     * Reads a musubi-format LoRA ({@code lora_unet_blocks_N_..._lora_down/up.weight}, optional
     * {@code .alpha}) with a module for every block Linear of {@code cfg} as trainable float32 tensors.
     */
    public static LoraNetwork read(Path file, DitConfig cfg, Device device) {
        try (PointerScope scope = new PointerScope(); SafetensorsFile f = SafetensorsFile.open(file)) {
            Set<String> unused = new LinkedHashSet<>(f.entries().keySet());
            List<String> problems = new ArrayList<>();
            List<Module> modules = new ArrayList<>();
            for (String path : paths(cfg)) {
                String name = loraName(path);
                long[] io = inOut(cfg, path);
                String dk = name + ".lora_down.weight", uk = name + ".lora_up.weight", ak = name + ".alpha";
                if (!f.entries().containsKey(dk) || !f.entries().containsKey(uk)) {
                    problems.add("missing " + (f.entries().containsKey(dk) ? uk : dk));
                    continue;
                }
                long[] ds = f.entry(dk).spec().shape(), us = f.entry(uk).spec().shape();
                if (ds.length != 2 || us.length != 2 || ds[1] != io[0] || us[0] != io[1] || us[1] != ds[0]) {
                    problems.add(name + ": down " + Arrays.toString(ds) + " / up " + Arrays.toString(us)
                            + " do not fit a Linear " + io[0] + " -> " + io[1] + " ([rank, " + io[0] + "] and [" + io[1] + ", rank])");
                    continue;
                }
                double alpha = f.entries().containsKey(ak) ? f.tensor(ak).to(ScalarType.Double).item_double() : ds[0];
                if (!(alpha > 0)) alpha = ds[0];
                unused.removeAll(List.of(dk, uk, ak));
                modules.add(new Module(name, path, leaf(f.tensor(dk), device), leaf(f.tensor(uk), device), alpha));
            }
            if (!unused.isEmpty()) problems.add("tensors that are no block Linear of this DiT: " + String.join(", ", unused.stream().limit(10).toList())
                    + (unused.size() > 10 ? " (and " + (unused.size() - 10) + " more)" : ""));
            if (!problems.isEmpty())
                throw new WeightsException("LoRA " + file + " cannot be trained on this DiT (" + cfg + "): " + String.join("; ", problems)
                        + ". Use a musubi-format LoRA covering every block Linear, or start from a fresh one.");
            return new LoraNetwork(modules);
        }
    }

    public List<Module> modules() { return List.copyOf(byPath.values()); }

    /** The trainable tensors by musubi key, down before up, module by module. */
    public Map<String, Tensor> parameters() {
        Map<String, Tensor> p = new LinkedHashMap<>();
        for (Module m : byPath.values()) {
            p.put(m.downKey(), m.down);
            p.put(m.upKey(), m.up);
        }
        return p;
    }

    /** The base model with this LoRA applied unmerged in every block Linear (a view sharing the base's weights). */
    public WanDit applyTo(WanDit base) {
        return base.withBlockAdapters(path -> {
            Module m = byPath.get(path);
            if (m == null) return null;
            return (Linear.Adapter) x -> multiplier == 1.0 ? m.forward(x) : m.forward(x).mul(s(multiplier));
        });
    }

    /**
     * Writes this network as musubi-tuner saves it (networks.lora_wan): for every module
     * {@code <lora_name>.lora_down.weight}, {@code .lora_up.weight} and the 0-dim {@code .alpha},
     * all in bfloat16, with the {@code ss_*} and {@code modelspec.*} metadata of a run saved
     * with {@code --no_metadata} (network module, dim, alpha, base model); the file is replaced atomically.
     */
    public void save(Path file) { save(file, ScalarType.BFloat16, Map.of()); }

    /**
     * {@link #save(Path)} in the given dtype (bf16 as musubi up to 2026-06, float32 as its
     * {@code --save_precision} default since), with extra metadata (e.g. {@code ss_seed},
     * {@code ss_steps}) added to or overriding the network's own keys.
     */
    public void save(Path file, ScalarType dtype, Map<String, String> extraMetadata) {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            // in name order, as safetensors' own writer lays out tensors of one dtype (so the data, and its hash, match musubi's)
            Map<String, Tensor> tensors = new TreeMap<>();
            for (Module m : byPath.values()) {
                tensors.put(m.downKey(), m.down.detach().to(dtype).cpu().contiguous());
                tensors.put(m.upKey(), m.up.detach().to(dtype).cpu().contiguous());
                tensors.put(m.alphaKey(), torch.scalar_tensor(new Scalar(m.alpha()),
                        new TensorOptions(dtype)));
            }
            Map<String, String> meta = new LinkedHashMap<>(metadata(dtype));
            meta.putAll(extraMetadata);
            LoraHashes hashes = LoraHashes.of(tensors, meta, file);   // musubi's sshs_* keys, over the ss_* metadata only
            meta.put(LoraHashes.MODEL_KEY, hashes.modelHash());
            meta.put(LoraHashes.LEGACY_KEY, hashes.legacyHash());
            SafetensorsWriter.write(file, tensors, meta);
        }
    }

    /** musubi's metadata for this network (values as Python's str() writes them). */
    Map<String, String> metadata(ScalarType dtype) {
        Module first = byPath.values().iterator().next();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("ss_base_model_version", "wan");
        meta.put("ss_network_module", "networks.lora_wan");
        meta.put("ss_network_dim", Long.toString(first.rank()));
        meta.put("ss_network_alpha", Double.toString(first.alpha()));
        meta.put("ss_network_dropout", "None");
        meta.put("ss_mixed_precision", "bf16");
        meta.put("modelspec.sai_model_spec", "1.0.0");
        meta.put("modelspec.architecture", "wan2.1/lora");
        meta.put("modelspec.implementation", "https://github.com/Wan-Video/Wan2.1");
        meta.put("modelspec.title", "LoRA@" + Instant.now().getEpochSecond());
        meta.put("modelspec.resolution", "1280x720");
        meta.put("modelspec.date", LocalDate.now(ZoneOffset.UTC).toString());
        return meta;
    }

    /** Sets every gradient to zero (before the next backward). */
    public void zeroGrad() {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (Tensor p : parameters().values()) {
                Tensor grad = p.grad();
                if (grad.defined()) grad.zero_();
            }
        }
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        for (Module m : byPath.values()) {
            m.down.releaseReference();
            m.up.releaseReference();
        }
    }
}
