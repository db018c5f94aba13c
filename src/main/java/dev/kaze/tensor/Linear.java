package dev.kaze.tensor;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A Linear layer, y = x Wᵀ + b, computed in the weight's dtype (the reference's autocast region
 * for block Linears, float32 for the embeddings it keeps in float32). Weights are held here so a
 * later storage mode (float8 with scales, host-resident blocks) can change how they are kept
 * without touching the model code.
 */
public final class Linear {
    private final Tensor weight;  // [out, in]
    private final Tensor bias;    // [out] or null
    private final Adapter adapter; // or null

    /** A term added to the layer's output, computed from its input: an unmerged LoRA while training. */
    @FunctionalInterface
    public interface Adapter {
        /** x: [..., in] in the layer's compute dtype -> [..., out]. */
        Tensor forward(Tensor x);
    }

    public Linear(Tensor weight, Tensor bias) {
        this(weight, bias, null);
    }

    private Linear(Tensor weight, Tensor bias, Adapter adapter) {
        this.weight = weight;
        this.bias = bias;
        this.adapter = adapter;
    }

    /** The same weights with {@code adapter(x)} added to every output (null: none); y = x Wᵀ + b + adapter(x). */
    public Linear withAdapter(Adapter adapter) { return new Linear(weight, bias, adapter); }

    /** Takes {@code prefix.weight} [out, in] and, when hasBias, {@code prefix.bias} [out]. */
    public static Linear take(Weights w, String prefix, long in, long out, boolean hasBias, ScalarType dtype) {
        Tensor weight = w.take(prefix + ".weight", dtype, out, in);
        Tensor bias = hasBias ? w.take(prefix + ".bias", dtype, out) : null;
        return new Linear(weight, bias);
    }

    public Tensor weight() { return weight; }

    public Tensor bias() { return bias; }

    public ScalarType dtype() { return weight.scalar_type(); }

    /** x: [..., in] -> [..., out] in the weight dtype. */
    public Tensor forward(Tensor x) {
        Tensor xc = Ops.as(x, weight.scalar_type());
        Tensor y = bias == null ? torch.linear(xc, weight) : torch.linear(xc, weight, new TensorOptional(bias));
        return adapter == null ? y : y.add(adapter.forward(xc));
    }
}
