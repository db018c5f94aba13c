// Port of wan/modules/vae.py, the layers of Encoder3d.downsamples / Decoder3d.upsamples
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Tensor;

/** One entry of an encoder or decoder stage; a null cache means a plain (uncached) call. */
sealed interface VaeBlock permits ResidualBlock, AttentionBlock, Resample {
    Tensor forward(Tensor x, FeatureCache cache);
}
