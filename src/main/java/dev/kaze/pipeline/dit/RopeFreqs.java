// Port of wan/modules/model.py, rope_params and rope_apply.
package dev.kaze.pipeline.dit;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static dev.kaze.tensor.Ops.cat;
import static dev.kaze.tensor.Ops.s;

/**
 * 3-D rotary position embedding. The head dimension d is split into d − 4·(d/6) dims for time and
 * 2·(d/6) each for height and width, each axis with its own frequency exponent; rotation is over
 * adjacent pairs (x[2j], x[2j+1]) viewed as complex numbers, as the reference's
 * view_as_complex(x) · polar(1, angles). The angles and their cos/sin are computed in float64 as in the
 * reference; the rotation itself multiplies in complex64 (float32 pairs), one pass over q or k, which
 * stays within the parity tolerances of the reference's float64 rotation.
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

    /** polar(1, angle) of the per-token angles for a (F, H, W) grid: [L, 1, d/2] complex64 (cos, sin from float64). */
    public Tensor table(long f, long h, long w) {
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
                .reshape(f * h * w, 1, c);                                   // [L, 1, c] float64
        Tensor cosSin = torch.stack(new TensorVector(grid.cos(), grid.sin()), -1).to(ScalarType.Float); // [L, 1, c, 2]
        return torch.view_as_complex(cosSin);                                // [L, 1, c] complex64
    }

    /**
     * x: [B, L, N, D] float32 (last dim contiguous) -> rotated [B, L, N, D] float32, with freqs from
     * {@link #table}. Rotates x itself (and returns it) unless x needs grad, then returns a rotated copy.
     */
    public static Tensor apply(Tensor x, Tensor freqs) {
        long b = x.size(0), l = x.size(1), n = x.size(2), d = x.size(3);
        Tensor xc = torch.view_as_complex(x.view(b, l, n, d / 2, 2));      // [B, L, N, D/2] complex64
        if (!x.requires_grad()) {
            xc.mul_(freqs);                                                  // freqs: [L, 1, D/2]
            return x;
        }
        return torch.view_as_real(xc.mul(freqs)).view(b, l, n, d);           // [B, L, N, D]
    }
}
