// Port of wan/modules/model.py, WanRMSNorm.
package dev.kaze.pipeline.dit;

import dev.kaze.tensor.Ops;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** y = (x.float() · rsqrt(mean(x², −1) + eps)).type_as(x) · weight, over the whole feature vector. */
record WanRmsNorm(Tensor weight, double eps) {
    Tensor forward(Tensor x) {
        // float32: libtorch's rms_norm, the same formula in one pass instead of six (with or without autograd,
        // so that both give the same numbers)
        if (Ops.same(x.scalar_type(), ScalarType.Float) && Ops.same(weight.scalar_type(), ScalarType.Float))
            return torch.rms_norm(x, new long[]{x.size(-1)}, new TensorOptional(weight), new DoubleOptional(eps));
        Tensor y = Ops.rmsNormalize(x, eps);
        return Ops.as(y, x.scalar_type()).mul(weight);
    }
}
