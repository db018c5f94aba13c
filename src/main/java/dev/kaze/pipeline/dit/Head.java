// Port of wan/modules/model.py, Head.
package dev.kaze.pipeline.dit;

import dev.kaze.tensor.Linear;
import dev.kaze.tensor.Ops;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import static dev.kaze.tensor.Ops.s;

/** Output head: modulated non-affine LayerNorm then Linear(C → prod(patch)·out_dim), all in float32. */
final class Head {
    final Tensor modulation;   // [1, 2, C] float32
    final Linear head;         // float32
    final double eps;

    Head(Tensor modulation, Linear head, double eps) {
        this.modulation = modulation;
        this.head = head;
        this.eps = eps;
    }

    /** x: [B, L, C], e: [B, C] (time embedding, before SiLU/projection) -> [B, L, prod(patch)·out_dim]. */
    Tensor forward(Tensor x, Tensor e) {
        TensorVector m = modulation.add(e.unsqueeze(1)).chunk(2, 1);        // 2 x [B, 1, C]
        Tensor shift = m.get(0), scale = m.get(1);
        return head.forward(Ops.layerNorm(x, null, null, eps).mul(scale.add(s(1))).add(shift));
    }
}
