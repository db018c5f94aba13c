package dev.kaze.pipeline.lora;

import dev.kaze.tensor.Linear;
import dev.kaze.tensor.Ops;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * LoRA files with their strengths, merged into base weights:
 * {@code W = W_base + Σ strength · scale · (up @ down) + Σ strength · diff}, computed in float32
 * and cast back to the base's dtype once. The order of the layers does not matter (up to
 * float32 rounding). The stack does not own its files; close them yourself.
 */
public record LoraStack(List<Layer> layers) {
    /** One LoRA file at one strength (0 switches it off; negative values invert it). */
    public record Layer(LoraFile file, double strength) {
        public Layer {
            Objects.requireNonNull(file, "file");
            if (!Double.isFinite(strength))
                throw new IllegalArgumentException("the strength of LoRA " + file.path() + " is " + strength
                        + "; give a finite number such as 1.0 (0 switches the LoRA off)");
        }
    }

    public LoraStack {
        layers = List.copyOf(layers);
    }

    public static LoraStack of(Layer... layers) { return new LoraStack(List.of(layers)); }

    /** Every model key some layer changes. */
    public Set<String> targets() {
        Set<String> all = new LinkedHashSet<>();
        for (Layer l : layers) all.addAll(l.file().targets());
        return all;
    }

    /** Whether any layer with a non-zero strength changes this key. */
    public boolean patches(String key) {
        for (Layer l : layers) if (l.strength() != 0 && !l.file().patches(key).isEmpty()) return true;
        return false;
    }

    /**
     * The stack's summed delta for one key ({@code Σ strength · delta}), in float32 on the given
     * device, as a new tensor in the caller's pointer scope. For applying LoRAs per request without
     * touching the base weights. Throws when no layer changes the key (see {@link #targets()}).
     */
    public Tensor delta(String key, Device device) {
        TensorSpec spec = null;
        for (Layer l : layers) {
            TensorSpec s = l.file().targetSpec(key);
            if (s == null) continue;
            if (spec != null && !spec.hasShape(s.shape()))
                throw new WeightsException("the LoRAs of the stack patch '" + key + "' with different shapes "
                        + TensorSpec.format(spec.shape()) + " and " + TensorSpec.format(s.shape()) + " (" + l.file().path()
                        + "); read them against the same model");
            spec = s;
        }
        if (spec == null) throw new WeightsException("no LoRA of the stack patches '" + key + "'");
        Tensor acc = torch.zeros(spec.shape(), new TensorOptions(ScalarType.Float).device(new DeviceOptional(device)));
        for (Layer l : layers) l.file().addInto(acc, key, l.strength());
        return acc;
    }

    /**
     * {@code base} with every layer's patches for {@code key} added: a new tensor of base's
     * dtype and device in the caller's pointer scope. The sum is taken in float32 and cast back
     * once. A tensor on the meta device (shapes only) comes back as it is.
     */
    public Tensor merge(String key, Tensor base) {
        if (base.device().is_meta() || !patches(key)) return base;
        long[] shape = base.sizes().vec().get();
        for (Layer l : layers) {
            TensorSpec spec = l.file().targetSpec(key);
            if (spec != null && !spec.hasShape(shape))
                throw new WeightsException("LoRA " + l.file().path() + " patches '" + key + "' with shape "
                        + TensorSpec.format(spec.shape()) + ", but the base tensor has shape " + TensorSpec.format(shape));
        }
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            // acc: float32 copy of base, same shape and device
            Tensor acc = base.to(base.device(), ScalarType.Float, false, true, new MemoryFormatOptional());
            for (Layer l : layers) l.file().addInto(acc, key, l.strength());
            Tensor merged = acc.to(base.scalar_type());
            if (outer != null) outer.attach(merged);
            else merged.retainReference();
            return merged;
        }
    }

    /**
     * A published float8 weight (values q [out, in], float8, and its {@code scale_weight}: [] / [1]
     * per tensor or [out, in/block, 1] block-wise) with the stack's patches for {@code key} merged:
     * {@code W = q · scale + Σ strength · ΔW} in float32, requantised to q's format with the same
     * scale layout and a fresh scale from the merged weight's amax (per tensor or per block, as
     * musubi-tuner and ComfyUI do). The new scale has the published scale's shape and dtype. New
     * tensors on q's device in the caller's pointer scope; the same inputs always give the same bytes.
     */
    public Linear.Float8.Quantized mergeFloat8(String key, Tensor q, Tensor scale) {
        WeightStorage.Format format = WeightStorage.Format.of(q.scalar_type());
        if (format == null) throw new IllegalArgumentException("mergeFloat8 needs float8 values for '" + key + "', got " + q.scalar_type());
        long[] shape = Ops.shape(q);
        for (Layer l : layers) {
            TensorSpec spec = l.file().targetSpec(key);
            if (spec != null && !spec.hasShape(shape))
                throw new WeightsException("LoRA " + l.file().path() + " patches '" + key + "' with shape "
                        + TensorSpec.format(spec.shape()) + ", but the base tensor has shape " + TensorSpec.format(shape));
        }
        WeightStorage.Scaling scaling = scale.dim() == 3
                ? new WeightStorage.Scaling.Blockwise((int) (q.size(1) / scale.size(1))) : new WeightStorage.Scaling.PerTensor();
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            Tensor scale32 = scale.to(q.device(), ScalarType.Float, false, false, new MemoryFormatOptional());
            Tensor acc = Linear.Float8.dequantize(q, scale32, ScalarType.Float).contiguous();   // [out, in] float32, a new tensor
            for (Layer l : layers) l.file().addInto(acc, key, l.strength());
            Linear.Float8.Quantized qs = Linear.Float8.quantize(acc, format, scaling);
            Tensor values = qs.values();                                                       // [out, in] float8
            Tensor newScale = qs.scale().reshape(Ops.shape(scale)).to(scale.scalar_type());    // the published layout
            for (Tensor t : new Tensor[]{values, newScale}) {
                if (outer != null) outer.attach(t);
                else t.retainReference();
            }
            return new Linear.Float8.Quantized(values, newScale);
        }
    }

    /**
     * A source with the same keys and specs as {@code base} whose {@link TensorSource#load} gives
     * the merged tensor for every patched key (on the CPU, where base's tensors are). Every target
     * of every layer is checked against base's keys and shapes first. Closing it closes nothing.
     */
    public TensorSource apply(TensorSource base) { return apply(base, null); }

    /**
     * As {@link #apply(TensorSource)}, but the merge of each patched key runs on {@code device}
     * (e.g. CUDA, where the rank-r products of a 14B model are fast) and the merged tensor stays
     * there; unpatched keys come back from base as they are.
     */
    public TensorSource apply(TensorSource base, Device device) {
        List<String> problems = new ArrayList<>();
        for (Layer l : layers)
            for (String key : l.file().targets()) {
                TensorSpec have = base.spec(key), want = l.file().targetSpec(key);
                if (have == null)
                    problems.add("LoRA " + l.file().path() + " patches '" + key + "', which " + base.describe() + " does not have");
                else if (!have.hasShape(want.shape()))
                    problems.add("LoRA " + l.file().path() + " patches '" + key + "' with shape " + TensorSpec.format(want.shape())
                            + ", but it has shape " + TensorSpec.format(have.shape()) + " in " + base.origin(key));
            }
        if (!problems.isEmpty())
            throw new WeightsException("the LoRA stack does not fit " + base.describe() + " (read the LoRAs against this model):\n  - "
                    + String.join("\n  - ", problems));
        return new Merged(this, base, device);
    }

    /** base with the stack's patches added on load. */
    private record Merged(LoraStack stack, TensorSource base, Device device) implements TensorSource {
        @Override public Set<String> keys() { return base.keys(); }

        @Override public TensorSpec spec(String key) { return base.spec(key); }

        @Override public Tensor load(String key) {
            String ofScale = Linear.weightKeyOfScale(key);
            if (ofScale != null && stack.patches(ofScale) && publishedFloat8(ofScale)) return mergedFloat8(ofScale, false);
            if (!stack.patches(key)) return base.load(key);
            if (publishedFloat8(key)) return mergedFloat8(key, true);
            PointerScope outer = PointerScope.getInnerScope();
            try (PointerScope scope = new PointerScope()) {
                Tensor w = base.load(key);
                if (device != null && !w.device().is_meta()) w = w.to(device, w.scalar_type());
                Tensor merged = stack.merge(key, w);
                if (outer != null) outer.attach(merged);
                else merged.retainReference();
                return merged;
            }
        }

        /** A weight the base stores as float8 with its scale_weight beside it (a published fp8 repack). */
        private boolean publishedFloat8(String weightKey) {
            TensorSpec spec = base.spec(weightKey);
            String scaleKey = Linear.scaleKey(weightKey);
            return spec != null && WeightStorage.Format.of(spec.dtype().scalarType()) != null
                    && scaleKey != null && base.spec(scaleKey) != null;
        }

        /** The merged float8 values (values) or their new scale (!values) of a published float8 weight, see {@link #mergeFloat8}. */
        private Tensor mergedFloat8(String weightKey, boolean values) {
            PointerScope outer = PointerScope.getInnerScope();
            try (PointerScope scope = new PointerScope()) {
                Tensor q = base.load(weightKey), scale = base.load(Linear.scaleKey(weightKey));
                Tensor result;
                if (q.device().is_meta()) {
                    result = values ? q : scale;
                } else {
                    if (device != null) {
                        q = q.to(device, q.scalar_type());
                        scale = scale.to(device, scale.scalar_type());
                    }
                    Linear.Float8.Quantized merged = stack.mergeFloat8(weightKey, q, scale);
                    result = values ? merged.values() : merged.scale();
                }
                if (outer != null) outer.attach(result);
                else result.retainReference();
                return result;
            }
        }

        @Override public String origin(String key) {
            String ofScale = Linear.weightKeyOfScale(key);
            if (ofScale != null && stack.patches(ofScale) && publishedFloat8(ofScale)) return origin(ofScale);
            if (!stack.patches(key)) return base.origin(key);
            List<String> files = new ArrayList<>();
            for (Layer l : stack.layers())
                if (l.strength() != 0 && !l.file().patches(key).isEmpty()) files.add(l.file().path() + " ×" + l.strength());
            return base.origin(key) + " + " + String.join(" + ", files);
        }

        @Override public String describe() {
            List<String> files = new ArrayList<>();
            for (Layer l : stack.layers()) files.add(l.file().path() + " ×" + l.strength());
            return base.describe() + " with LoRAs " + String.join(", ", files);
        }
    }
}
