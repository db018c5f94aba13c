package dev.kaze.tensor;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Small libtorch idioms that JavaCPP makes verbose; each is one reference operation. */
public final class Ops {
    private Ops() {}

    public static Scalar s(double v) { return new Scalar(v); }

    public static Tensor cat(long dim, Tensor... parts) { return torch.cat(new TensorVector(parts), dim); }

    public static Tensor stack(long dim, Tensor... parts) { return torch.stack(new TensorVector(parts), dim); }

    /**
     * Whether two scalar types are the same. JavaCPP hands back a fresh enum-like object from
     * native calls such as {@code scalar_type()}, so types are compared by value, never by identity.
     */
    public static boolean same(ScalarType a, ScalarType b) { return a.value == b.value; }

    /** x.to(type), skipping the call when x already has it. */
    public static Tensor as(Tensor x, ScalarType type) { return same(x.scalar_type(), type) ? x : x.to(type); }

    /** x.float() */
    public static Tensor f32(Tensor x) { return as(x, ScalarType.Float); }

    /** Non-affine (weight == null) or affine LayerNorm over the last dim, computed on x.float(). */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        long c = x.size(-1);
        TensorOptional w = weight == null ? new TensorOptional() : new TensorOptional(weight);
        TensorOptional b = bias == null ? new TensorOptional() : new TensorOptional(bias);
        return torch.layer_norm(f32(x), new long[]{c}, w, b, eps, false);
    }

    /** x * rsqrt(mean(x², -1) + eps), in float32. */
    public static Tensor rmsNormalize(Tensor x, double eps) {
        Tensor xf = f32(x);
        return xf.mul(xf.pow(s(2)).mean(new long[]{-1}, true, new ScalarTypeOptional()).add(s(eps)).rsqrt());
    }

    /** softmax(q kᵀ · scale) v over [B, N, L, D] tensors, no mask. */
    public static Tensor attention(Tensor q, Tensor k, Tensor v) {
        // contiguous [B, N, L, D] inputs let the CPU flash kernel run without strided access
        return torch.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous(), new TensorOptional(), 0.0, false, new DoubleOptional(), false);
    }

    public static long[] shape(Tensor t) { return t.sizes().vec().get(); }
}
