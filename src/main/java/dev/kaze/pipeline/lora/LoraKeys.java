package dev.kaze.pipeline.lora;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Maps the stored names of a LoRA file onto the keys of one model (the DiT's own names, e.g.
 * {@code blocks.0.self_attn.q.weight}). Every name is decoded against the model's keys, never by
 * guessing: musubi's underscored names through a reverse map built from the model, the other
 * formats by trying the original and the diffusers reading and keeping the one the model has.
 */
final class LoraKeys {
    /** What a stored tensor is to the module it addresses. */
    enum Role {
        DOWN("lora_down"), UP("lora_up"), ALPHA("alpha"), UP_BIAS("lora_B.bias"),
        DIFF("diff"), DIFF_B("diff_b"), DIFF_M("diff_m");

        final String label;

        Role(String label) { this.label = label; }

        boolean lowRank() { return this == DOWN || this == UP || this == ALPHA || this == UP_BIAS; }
    }

    /** The outcome of decoding one stored name. */
    sealed interface Mapping permits Mapped, Unmapped {}

    /** The stored tensor plays {@code role} for {@code module} (original name) and patches model key {@code target}. */
    record Mapped(LoraFormat format, Role role, String module, String target) implements Mapping {}

    /** The stored name addresses nothing (or more than one thing) in the model; reason says why. */
    record Unmapped(String reason) implements Mapping {}

    private static final String MUSUBI_PREFIX = "lora_unet_";
    private static final String AMBIGUOUS = "\0ambiguous";

    /** Suffixes in the order they are tried (".diff_b" before ".diff"). */
    private static final List<Map.Entry<String, Role>> SUFFIXES = List.of(
            Map.entry(".lora_down.weight", Role.DOWN), Map.entry(".lora_A.weight", Role.DOWN),
            Map.entry(".lora_up.weight", Role.UP), Map.entry(".lora_B.weight", Role.UP),
            Map.entry(".lora_B.bias", Role.UP_BIAS), Map.entry(".alpha", Role.ALPHA),
            Map.entry(".diff_b", Role.DIFF_B), Map.entry(".diff_m", Role.DIFF_M), Map.entry(".diff", Role.DIFF));

    /** Prefixes removed before a dotted name is read as a module path ("base_model.model." first). */
    private static final List<String> DOTTED_PREFIXES = List.of("model.diffusion_model.", "diffusion_model.", "transformer.");

    private static final Pattern BLOCK = Pattern.compile("^(blocks\\.\\d+\\.)(.+)$");

    /** diffusers name → original name inside a block ({@code blocks.i.}); norm2/norm3 are swapped. */
    private static final Map<String, String> DIFFUSERS_BLOCK = Map.ofEntries(
            Map.entry("attn1.to_q", "self_attn.q"), Map.entry("attn1.to_k", "self_attn.k"),
            Map.entry("attn1.to_v", "self_attn.v"), Map.entry("attn1.to_out.0", "self_attn.o"),
            Map.entry("attn1.norm_q", "self_attn.norm_q"), Map.entry("attn1.norm_k", "self_attn.norm_k"),
            Map.entry("attn2.to_q", "cross_attn.q"), Map.entry("attn2.to_k", "cross_attn.k"),
            Map.entry("attn2.to_v", "cross_attn.v"), Map.entry("attn2.to_out.0", "cross_attn.o"),
            Map.entry("attn2.norm_q", "cross_attn.norm_q"), Map.entry("attn2.norm_k", "cross_attn.norm_k"),
            Map.entry("attn2.add_k_proj", "cross_attn.k_img"), Map.entry("attn2.add_v_proj", "cross_attn.v_img"),
            Map.entry("attn2.norm_added_k", "cross_attn.norm_k_img"),
            Map.entry("ffn.net.0.proj", "ffn.0"), Map.entry("ffn.net.2", "ffn.2"),
            Map.entry("norm2", "norm3"), Map.entry("norm3", "norm2"),
            Map.entry("scale_shift_table", "modulation"));

    /** diffusers name → original name outside the blocks. */
    private static final Map<String, String> DIFFUSERS_TOP = Map.ofEntries(
            Map.entry("condition_embedder.time_proj", "time_projection.1"),
            Map.entry("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
            Map.entry("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
            Map.entry("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
            Map.entry("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
            Map.entry("proj_out", "head.head"),
            Map.entry("scale_shift_table", "head.modulation"));

    private final Set<String> modelKeys;
    /** "lora_unet_" + dotted module path with '.' → '_' → that dotted path (or AMBIGUOUS). */
    private final Map<String, String> musubiNames = new HashMap<>();

    LoraKeys(Set<String> modelKeys) {
        this.modelKeys = Set.copyOf(modelKeys);
        for (String key : modelKeys) {
            // every dotted prefix of the key is a module path a musubi name may address
            String path = key;
            while (!path.isEmpty()) {
                String musubi = MUSUBI_PREFIX + path.replace('.', '_');
                String prev = musubiNames.putIfAbsent(musubi, path);
                if (prev != null && !prev.equals(path)) musubiNames.put(musubi, AMBIGUOUS);
                int dot = path.lastIndexOf('.');
                path = dot < 0 ? "" : path.substring(0, dot);
            }
        }
    }

    Mapping resolve(String storedName) {
        String name = storedName.replace(".default.", ".");   // PEFT adapter name
        Role role = null;
        String modulePart = null;
        for (var s : SUFFIXES) {
            if (name.endsWith(s.getKey()) && name.length() > s.getKey().length()) {
                role = s.getValue();
                modulePart = name.substring(0, name.length() - s.getKey().length());
                break;
            }
        }
        if (role == null)
            return new Unmapped("is not a LoRA tensor (the name should end in .lora_down.weight, .lora_up.weight, "
                    + ".lora_A.weight, .lora_B.weight, .lora_B.bias, .alpha, .diff, .diff_b or .diff_m)");
        LoraFormat format = LoraFormat.of(storedName);
        List<String> modules = new ArrayList<>();
        if (format == LoraFormat.MUSUBI) {
            String musubi = modulePart.startsWith(MUSUBI_PREFIX + "_")          // VideoX-Fun writes lora_unet__blocks_…
                    ? MUSUBI_PREFIX + modulePart.substring(MUSUBI_PREFIX.length() + 1) : modulePart;
            String module = musubiNames.get(musubi);
            if (AMBIGUOUS.equals(module))
                return new Unmapped("is ambiguous: '" + musubi + "' fits more than one module of the model");
            if (module != null) modules.add(module);
        } else {
            String module = modulePart;
            if (module.startsWith("base_model.model.")) module = module.substring("base_model.model.".length());
            for (String p : DOTTED_PREFIXES)
                if (module.startsWith(p)) {
                    module = module.substring(p.length());
                    break;
                }
            modules.add(module);
            String renamed = fromDiffusers(module);
            if (renamed != null && !renamed.equals(module)) modules.add(renamed);
        }
        Set<String> tried = new LinkedHashSet<>();
        List<Mapped> found = new ArrayList<>();
        for (String module : modules) {
            for (String target : targetsFor(module, role)) {
                tried.add(target);
                if (modelKeys.contains(target)) {
                    found.add(new Mapped(format, role, module, target));
                    break;
                }
            }
        }
        if (found.size() == 1) return found.getFirst();
        if (found.size() > 1)
            return new Unmapped("is ambiguous: it could patch '" + found.get(0).target() + "' or '" + found.get(1).target() + "'");
        if (tried.isEmpty())
            return new Unmapped("names no module of the model (a musubi name is 'lora_unet_' + the module name with '_' for '.', "
                    + "e.g. lora_unet_blocks_0_self_attn_q)");
        return new Unmapped("addresses no parameter of the model (looked for " + String.join(" and ", tried.stream().map(t -> "'" + t + "'").toList()) + ")");
    }

    /** The model keys a tensor of this role for this module would patch, most specific first. */
    private static List<String> targetsFor(String module, Role role) {
        return switch (role) {
            case DOWN, UP, ALPHA -> List.of(module + ".weight");
            case UP_BIAS, DIFF_B -> List.of(module + ".bias");
            case DIFF -> List.of(module + ".weight", module);   // a bare parameter such as blocks.0.modulation
            case DIFF_M -> List.of(module + ".modulation");
        };
    }

    /** The original module name for a diffusers one, or null where the name is not a diffusers name. */
    static String fromDiffusers(String module) {
        Matcher m = BLOCK.matcher(module);
        if (m.matches()) {
            String inner = DIFFUSERS_BLOCK.get(m.group(2));
            return inner == null ? null : m.group(1) + inner;
        }
        return DIFFUSERS_TOP.get(module);
    }
}
