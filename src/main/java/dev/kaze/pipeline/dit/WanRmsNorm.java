// Port of wan/modules/model.py, WanRMSNorm.
package dev.kaze.pipeline.dit;

import dev.kaze.tensor.Ops;
import org.bytedeco.pytorch.Tensor;

/** y = (x.float() · rsqrt(mean(x², −1) + eps)).type_as(x) · weight, over the whole feature vector. */
record WanRmsNorm(Tensor weight, double eps) {
    Tensor forward(Tensor x) {
        Tensor y = Ops.rmsNormalize(x, eps);
        return Ops.as(y, x.scalar_type()).mul(weight);
    }
}
