package dev.kaze.training;

import dev.kaze.pipeline.WanPipeline;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.List;

/**
 * One cached training item: the VAE latent [16, F, h, w] (float32, normalised) and the trimmed
 * text-encoder output [L, text_dim] of its caption. The tensors belong to the pointer scope the
 * sample was made in; the trainer only reads them.
 */
public record TrainingSample(Tensor latent, Tensor context) {
    public TrainingSample {
        if (latent.dim() != 4) throw new IllegalArgumentException("latent must be [C, F, h, w], got " + latent.dim() + "-d");
        if (context.dim() != 2) throw new IllegalArgumentException("context must be [L, text_dim], got " + context.dim() + "-d");
    }

    /**
     * Encodes RGB frames (all the same size, 4k+1 of them, sides multiples of 8) with the model's VAE
     * and the caption with the pipeline's text encoding (cleaned, tokenized, umT5), as musubi's
     * latent and text-encoder caches do. The tensors land in the caller's pointer scope.
     */
    public static TrainingSample encode(WanPipeline pipeline, List<RgbImage> frames, String caption) {
        Tensor latent = encodeLatent(pipeline, frames);                           // latent: [16, F, h/8, w/8]
        Tensor context = pipeline.encode(caption).detach().clone();               // context: [L, text_dim]
        return new TrainingSample(latent, context);
    }

    /**
     * The normalised VAE latent mean [16, F, h/8, w/8] (float32, on the model's device) of RGB frames (all the same
     * size, 4k+1 of them, sides multiples of 8), pixels scaled as x/127.5 - 1; in the caller's pointer scope.
     */
    public static Tensor encodeLatent(WanPipeline pipeline, List<RgbImage> frames) {
        if (frames.isEmpty()) throw new IllegalArgumentException("a training sample needs at least one frame");
        int w = frames.getFirst().width(), h = frames.getFirst().height(), t = frames.size();
        float[] pixels = new float[3 * t * h * w];
        for (int f = 0; f < t; f++) {
            RgbImage img = frames.get(f);
            if (img.width() != w || img.height() != h)
                throw new IllegalArgumentException("frame " + f + " is " + img.width() + "x" + img.height() + ", frame 0 is " + w + "x" + h);
            byte[] rgb = img.rgb();
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < 3; c++)
                        pixels[((c * t + f) * h + y) * w + x] = (rgb[(y * w + x) * 3 + c] & 0xff) / 127.5f - 1f;
        }
        Tensor video = torch.tensor(pixels).view(1, 3, t, h, w);                  // video: [1, 3, T, H, W] in [-1, 1]
        return pipeline.model().vae().encode(video).squeeze(0);                   // latent: [16, F, h/8, w/8]
    }
}
