package dev.kaze.tensor;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Arrays;

/**
 * A Linear layer, y = x Wᵀ + b, computed in the compute dtype (the reference's autocast region
 * for block Linears, float32 for the embeddings it keeps in float32). The weight is kept either
 * in the compute dtype or as float8 values q with float32 scales, W = q · scale, upcast to the
 * compute dtype at every {@link #forward} (see {@link WeightStorage}), or, with
 * {@link WeightStorage.Matmul#SCALED_MM} where {@link ScaledMm#usable} holds, multiplied as float8.
 */
public final class Linear {
    private final Tensor weight;       // [out, in] compute dtype, or null when float8
    private final Tensor quantized;    // [out, in] float8, or null
    private final Tensor scale;        // [] / [1] per tensor, or [out, in/block, 1] block-wise; float32; null unless float8
    private final ScalarType dtype;    // compute dtype
    private final Tensor bias;         // [out] or null
    private final Adapter adapter;     // or null
    private final WeightStorage.Matmul matmul;

    /** A term added to the layer's output, computed from its input: an unmerged LoRA while training. */
    @FunctionalInterface
    public interface Adapter {
        /** x: [..., in] in the layer's compute dtype -> [..., out]. */
        Tensor forward(Tensor x);
    }

    public Linear(Tensor weight, Tensor bias) {
        this(weight, null, null, weight.scalar_type(), bias);
    }

    private Linear(Tensor weight, Tensor quantized, Tensor scale, ScalarType dtype, Tensor bias) {
        this(weight, quantized, scale, dtype, bias, null, WeightStorage.Matmul.UPCAST);
    }

    private Linear(Tensor weight, Tensor quantized, Tensor scale, ScalarType dtype, Tensor bias, Adapter adapter,
                   WeightStorage.Matmul matmul) {
        this.matmul = matmul;
        this.weight = weight;
        this.quantized = quantized;
        this.scale = scale;
        this.dtype = dtype;
        this.bias = bias;
        this.adapter = adapter;
    }

    /** The same weights with {@code adapter(x)} added to every output (null: none); y = x Wᵀ + b + adapter(x). */
    public Linear withAdapter(Adapter adapter) { return new Linear(weight, quantized, scale, dtype, bias, adapter, matmul); }

    /** The same layer multiplying as matmul says (only float8 Linears use it). */
    public Linear withMatmul(WeightStorage.Matmul matmul) { return new Linear(weight, quantized, scale, dtype, bias, adapter, matmul); }

    /** A Linear keeping float8 values q [out, in] and float32 scale(s), computing in dtype. */
    public static Linear float8(Tensor quantized, Tensor scale, Tensor bias, ScalarType dtype) {
        if (WeightStorage.Format.of(quantized.scalar_type()) == null)
            throw new IllegalArgumentException("float8 Linear needs a float8 weight, got " + quantized.scalar_type());
        return new Linear(null, quantized, scale, dtype, bias);
    }

    /** Takes {@code prefix.weight} [out, in] and, when hasBias, {@code prefix.bias} [out], kept in dtype. */
    public static Linear take(Weights w, String prefix, long in, long out, boolean hasBias, ScalarType dtype) {
        return take(w, prefix, in, out, hasBias, dtype, WeightStorage.COMPUTE);
    }

    /**
     * Takes {@code prefix.weight} [out, in] (and {@code prefix.bias} [out] when hasBias) and keeps
     * the weight as storage says. A weight the checkpoint already stores as float8 is kept as
     * stored with its {@code prefix.scale_weight} (scale 1 when absent), never requantised; with
     * COMPUTE storage it is upcast once to dtype.
     */
    public static Linear take(Weights w, String prefix, long in, long out, boolean hasBias, ScalarType dtype,
                              WeightStorage storage) {
        String weightKey = prefix + ".weight", scaleKey = scaleKey(weightKey);
        ScalarType stored = w.storedType(weightKey);
        boolean storedFloat8 = stored != null && WeightStorage.Format.of(stored) != null;
        Linear linear;
        if (storedFloat8) {
            Tensor[] kept = w.derive(() -> {
                Tensor q = w.take(weightKey, stored, out, in);                                   // [out, in] float8
                Tensor scale = w.storedType(scaleKey) != null ? w.takeAnyShape(scaleKey, ScalarType.Float) : null; // [] / [1] / [out, nb, 1]
                if (scale == null || !checkScaleLayout(w, scaleKey, scale, out, in))
                    scale = torch.ones(new long[]{}, new TensorOptions(ScalarType.Float).device(new DeviceOptional(q.device())));
                w.skip(prefix + ".scale_input");   // input scale of fp8 matmul repacks: unused, inputs stay unquantised
                return storage.isFloat8() ? new Tensor[]{q, scale} : new Tensor[]{Float8.dequantize(q, scale, dtype)};
            });
            linear = kept.length == 2 ? new Linear(null, kept[0], kept[1], dtype, null) : new Linear(kept[0], null, null, dtype, null);
        } else if (storage.isFloat8()) {
            Tensor[] kept = w.derive(() -> {
                Tensor full = w.take(weightKey, ScalarType.Float, out, in);                         // [out, in] float32
                Float8.Quantized qs = Float8.quantize(full, storage.format(), storage.scaling());
                return new Tensor[]{qs.values(), qs.scale()};
            });
            linear = new Linear(null, kept[0], kept[1], dtype, null);
        } else {
            linear = new Linear(w.take(weightKey, dtype, out, in), null, null, dtype, null);
        }
        Tensor bias = hasBias ? w.take(prefix + ".bias", dtype, out) : null;
        return new Linear(linear.weight, linear.quantized, linear.scale, dtype, bias, null, storage.matmul());
    }

    /**
     * The key of the float32 scale(s) a published float8 checkpoint stores beside a float8 weight
     * ({@code blocks.0.ffn.0.weight} -> {@code blocks.0.ffn.0.scale_weight}, ComfyUI's and Kijai's
     * repacks); null when weightKey does not end in {@code .weight}.
     */
    public static String scaleKey(String weightKey) {
        return weightKey.endsWith(".weight") ? weightKey.substring(0, weightKey.length() - ".weight".length()) + ".scale_weight" : null;
    }

    /** The weight key whose scale(s) {@link #scaleKey} names scaleKey; null for any other key. */
    public static String weightKeyOfScale(String scaleKey) {
        return scaleKey.endsWith(".scale_weight")
                ? scaleKey.substring(0, scaleKey.length() - ".scale_weight".length()) + ".weight" : null;
    }

    private static boolean checkScaleLayout(Weights w, String key, Tensor scale, long out, long in) {
        long n = scale.numel();
        boolean perTensor = n == 1;
        boolean blockwise = scale.dim() == 3 && scale.size(0) == out && scale.size(2) == 1 && scale.size(1) > 0
                && in % scale.size(1) == 0;
        if (!perTensor && !blockwise)
            w.problem("key '" + key + "' in " + w.source().origin(key) + " has shape "
                    + TensorSpec.format(Ops.shape(scale)) + "; a float8 scale must hold one value or be [" + out
                    + ", in/block, 1] (use a checkpoint written by ComfyUI or musubi-tuner, or a bf16 one)");
        return perTensor || blockwise;
    }

    /**
     * The tensors the weight is kept in: {weight} in the compute dtype, or {float8 values, scale(s)}.
     * Block swapping copies exactly these between host and device ({@link #withStoredTensors}).
     */
    public Tensor[] storedTensors() { return quantized != null ? new Tensor[]{quantized, scale} : new Tensor[]{weight}; }

    /**
     * The same layer (dtype, bias, adapter) computing with other tensors of the same kinds and
     * shapes as {@link #storedTensors()}: a device slot holding a copy of this layer's host weight.
     */
    public Linear withStoredTensors(Tensor[] stored) {
        Tensor[] own = storedTensors();
        if (stored.length != own.length)
            throw new IllegalArgumentException("expected " + own.length + " stored tensor(s), got " + stored.length);
        for (int i = 0; i < own.length; i++)
            if (!Ops.same(own[i].scalar_type(), stored[i].scalar_type())
                    || !Arrays.equals(Ops.shape(own[i]), Ops.shape(stored[i])))
                throw new IllegalArgumentException("stored tensor " + i + " is " + stored[i].scalar_type() + " " + TensorSpec.format(Ops.shape(stored[i]))
                        + ", this layer keeps " + own[i].scalar_type() + " " + TensorSpec.format(Ops.shape(own[i])));
        return quantized != null ? new Linear(null, stored[0], stored[1], dtype, bias, adapter, matmul)
                : new Linear(stored[0], null, null, dtype, bias, adapter, matmul);
    }

    /** The weight in the compute dtype: the stored one, or the float8 values upcast (q · scale). */
    public Tensor weight() { return weight != null ? weight : Float8.dequantize(quantized, scale, dtype); }

    /** The float8 values [out, in], or null when the weight is kept in the compute dtype. */
    public Tensor quantized() { return quantized; }

    /** The float32 scale(s) of the float8 values, or null. */
    public Tensor scale() { return scale; }

    public Tensor bias() { return bias; }

    public ScalarType dtype() { return dtype; }

    public boolean isFloat8() { return quantized != null; }

    /**
     * The scale layout of this Linear's float8 values: block-wise when its scale is
     * [out, in/block, 1], per tensor otherwise; null when the weight is kept in the compute dtype.
     */
    public WeightStorage storage() {
        if (quantized == null) return null;
        WeightStorage.Format format = WeightStorage.Format.of(quantized.scalar_type());
        return scale.dim() == 3 ? WeightStorage.blockwise(format, (int) (quantized.size(1) / scale.size(1)))
                : WeightStorage.perTensor(format);
    }

    /**
     * Quantises w [out, in] (any float dtype, any device) with this Linear's format and scale layout
     * ({@link #storage()}) and copies the values and scale(s) into its own tensors in place, so
     * views sharing them see the update. Quantising the same w always gives the same bytes.
     * Only for float8 Linears.
     */
    public void requantizeInPlace(Tensor w) {
        if (quantized == null) throw new IllegalStateException("requantizeInPlace needs a float8 Linear; this one keeps " + dtype);
        if (w.dim() != 2 || w.size(0) != quantized.size(0) || w.size(1) != quantized.size(1))
            throw new IllegalArgumentException("weight " + TensorSpec.format(Ops.shape(w)) + " does not match the float8 values "
                    + TensorSpec.format(Ops.shape(quantized)));
        try (PointerScope scope = new PointerScope()) {
            WeightStorage storage = storage();
            Tensor w32 = w.to(quantized.device(), ScalarType.Float, false, false, new MemoryFormatOptional()); // [out, in]
            Float8.Quantized qs = Float8.quantize(w32, storage.format(), storage.scaling());
            if (qs.scale().numel() != scale.numel())
                throw new IllegalStateException("requantised scale " + TensorSpec.format(Ops.shape(qs.scale()))
                        + " does not match the kept scale " + TensorSpec.format(Ops.shape(scale)));
            quantized.copy_(qs.values());
            scale.copy_(qs.scale().view(Ops.shape(scale)));
        }
    }

    /**
     * Copies float8 values [out, in] of this Linear's format and their scale(s) (any float dtype,
     * as many values as this Linear's scale holds) into its own tensors in place, so views sharing
     * them see the update: e.g. a published checkpoint's q and scale_weight, restored bit for bit.
     * Only for float8 Linears.
     */
    public void copyStoredInPlace(Tensor values, Tensor scales) {
        if (quantized == null) throw new IllegalStateException("copyStoredInPlace needs a float8 Linear; this one keeps " + dtype);
        if (!Ops.same(values.scalar_type(), quantized.scalar_type()) || !Arrays.equals(Ops.shape(values), Ops.shape(quantized)))
            throw new IllegalArgumentException("values " + values.scalar_type() + " " + TensorSpec.format(Ops.shape(values))
                    + " do not match the float8 values " + quantized.scalar_type() + " " + TensorSpec.format(Ops.shape(quantized)));
        if (scales.numel() != scale.numel())
            throw new IllegalArgumentException("scale " + TensorSpec.format(Ops.shape(scales)) + " does not match the kept scale "
                    + TensorSpec.format(Ops.shape(scale)));
        try (PointerScope scope = new PointerScope()) {
            quantized.copy_(values);
            scale.copy_(Ops.f32(scales).reshape(Ops.shape(scale)));
        }
    }

    /** x: [..., in] -> [..., out] in the compute dtype. */
    public Tensor forward(Tensor x) {
        Tensor xc = Ops.as(x, dtype);
        Tensor y;
        if (quantized != null && matmul == WeightStorage.Matmul.SCALED_MM && ScaledMm.usable(xc, quantized, scale)) {
            y = ScaledMm.linear(xc, quantized, scale, dtype);                                   // [..., out]
            if (bias != null) y.add_(bias);
        } else {
            Tensor w = weight();                                                                 // [out, in]
            y = bias == null ? torch.linear(xc, w) : torch.linear(xc, w, new TensorOptional(bias));
        }
        return adapter == null ? y : y.add(adapter.forward(xc));
    }

    /** float8 quantisation of Linear weights, W ≈ q · scale. */
    public static final class Float8 {
        private Float8() {}

        /** float8 values q [out, in] and their float32 scale ([] or [out, in/block, 1]). */
        public record Quantized(Tensor values, Tensor scale) {}

        /**
         * q = float8(clamp(W / scale, ±fp8max)), scale = max|W| / fp8max over the whole tensor
         * (per tensor) or over each run of blockSize input columns of one output row (block-wise;
         * per tensor when in is not a multiple of blockSize). Scales are at least 1e-8.
         */
        public static Quantized quantize(Tensor w, WeightStorage.Format format, WeightStorage.Scaling scaling) {
            if (format.scalarType() == null) throw new IllegalArgumentException("quantize needs a float8 format");
            long out = w.size(0), in = w.size(1);
            if (w.is_meta()) return metaQuantized(w, format, scaling);
            Tensor w32 = Ops.f32(w).contiguous();                                                 // [out, in]
            Scalar max = new Scalar(format.max());
            ScalarOptional hi = new ScalarOptional(max), lo = new ScalarOptional(new Scalar(-format.max()));
            if (scaling instanceof WeightStorage.Scaling.Blockwise(int bs) && w32.dim() == 2 && in % bs == 0) {
                Tensor v = w32.view(out, in / bs, bs);                                             // [out, nb, bs]
                Tensor scale = torch.clamp_min(v.abs().amax(new long[]{2}, true).div(max), new Scalar(1e-8)); // [out, nb, 1]
                Tensor q = torch.nan_to_num(v.div(scale)).clamp(lo, hi).to(format.scalarType()).view(out, in); // [out, in]
                return new Quantized(q, scale);
            }
            Tensor scale = torch.clamp_min(w32.abs().max().div(max), new Scalar(1e-8));            // []
            Tensor q = torch.nan_to_num(w32.div(scale)).clamp(lo, hi).to(format.scalarType());   // [out, in]
            return new Quantized(q, scale);
        }

        /** Meta-device results of the right dtypes and shapes (builders checked against a shape manifest). */
        private static Quantized metaQuantized(Tensor w, WeightStorage.Format format, WeightStorage.Scaling scaling) {
            long out = w.size(0), in = w.size(1);
            DeviceOptional meta = new DeviceOptional(w.device());
            long[] scaleShape = scaling instanceof WeightStorage.Scaling.Blockwise(int bs) && in % bs == 0
                    ? new long[]{out, in / bs, 1} : new long[]{};
            return new Quantized(
                    torch.empty(new long[]{out, in}, new TensorOptions(format.scalarType()).device(meta), new MemoryFormatOptional()),
                    torch.empty(scaleShape, new TensorOptions(ScalarType.Float).device(meta), new MemoryFormatOptional()));
        }

        /** q · scale in float32, then cast to dtype: q [out, in], scale [] / [1] / [out, nb, 1]. */
        public static Tensor dequantize(Tensor q, Tensor scale, ScalarType dtype) {
            Tensor q32 = q.to(ScalarType.Float);                                                  // [out, in]
            Tensor w;
            if (scale.dim() == 3) {
                long out = q.size(0), in = q.size(1), nb = scale.size(1);
                w = q32.view(out, nb, in / nb).mul(scale).view(out, in);                          // [out, in]
            } else {
                w = q32.mul(scale);                                                               // [out, in]
            }
            return Ops.as(w, dtype);
        }
    }
}
