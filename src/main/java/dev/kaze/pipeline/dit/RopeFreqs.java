// Port of wan/modules/model.py, rope_params and rope_apply.
package dev.kaze.pipeline.dit;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static dev.kaze.tensor.Ops.cat;
import static dev.kaze.tensor.Ops.s;
import static dev.kaze.tensor.Ops.stack;

/**
 * 3-D rotary position embedding, in float64 as the reference. The head dimension d is split
 * into d − 4·(d/6) dims for time and 2·(d/6) each for height and width, each axis with its
 * own frequency exponent; rotation is over adjacent pairs (x[2j], x[2j+1]).
 */
public final class RopeFreqs {
    static final int MAX_POSITIONS = 1024;
    private final int headDim;

    public RopeFreqs(int headDim) {
        if (headDim % 2 != 0) throw new IllegalArgumentException("RoPE needs an even head dimension, got " + headDim);
        this.headDim = headDim;
    }

    /** rope_params(1024, dim): angles [1024, dim/2] in float64 (the reference takes polar(1, angles)). */
    private static Tensor angles(int dim) {
        TensorOptions f64 = new TensorOptions(ScalarType.Double);
        Tensor exponents = torch.arange(s(0), s(dim), s(2), f64).div(s(dim));            // [dim/2]
        Tensor inv = torch.pow(s(10000.0), exponents).reciprocal();                      // [dim/2]
        return torch.outer(torch.arange(s(MAX_POSITIONS), f64), inv);                    // [1024, dim/2]
    }

    /** cos and sin of the per-token angles for a (F, H, W) grid: each [L, 1, d/2] float64. */
    public Tensor[] table(long f, long h, long w) {
        if (f > MAX_POSITIONS || h > MAX_POSITIONS || w > MAX_POSITIONS)
            throw new IllegalArgumentException("patch grid " + f + "x" + h + "x" + w + " exceeds RoPE's " + MAX_POSITIONS + " positions per axis");
        int d = headDim;
        int c = d / 2;
        Tensor at = angles(d - 4 * (d / 6)).narrow(0, 0, f);                 // [F, c - 2(c/3)]
        Tensor ah = angles(2 * (d / 6)).narrow(0, 0, h);                     // [H, c/3]
        Tensor aw = angles(2 * (d / 6)).narrow(0, 0, w);                     // [W, c/3]
        Tensor grid = cat(-1,
                at.view(f, 1, 1, -1).expand(f, h, w, at.size(1)),
                ah.view(1, h, 1, -1).expand(f, h, w, ah.size(1)),
                aw.view(1, 1, w, -1).expand(f, h, w, aw.size(1)))
                .reshape(f * h * w, 1, c);                                   // [L, 1, c]
        return new Tensor[]{grid.cos(), grid.sin()};
    }

    /** x: [B, L, N, D] -> rotated [B, L, N, D] float32, with cos/sin from {@link #table}. */
    public static Tensor apply(Tensor x, Tensor[] cosSin) {
        long b = x.size(0), l = x.size(1), n = x.size(2), d = x.size(3);
        Tensor xd = x.to(ScalarType.Double).reshape(b, l, n, d / 2, 2);      // [B, L, N, D/2, 2]
        Tensor x0 = xd.select(-1, 0), x1 = xd.select(-1, 1);                 // [B, L, N, D/2]
        Tensor cos = cosSin[0], sin = cosSin[1];                             // [L, 1, D/2]
        Tensor y0 = x0.mul(cos).sub(x1.mul(sin));
        Tensor y1 = x0.mul(sin).add(x1.mul(cos));
        return stack(-1, y0, y1).reshape(b, l, n, d).to(ScalarType.Float);   // [B, L, N, D]
    }
}
