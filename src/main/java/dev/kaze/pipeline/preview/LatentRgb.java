package dev.kaze.pipeline.preview;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Arrays;

/**
 * Wan2.1's linear latent-to-RGB approximation, as ComfyUI's {@code Wan21} latent format publishes it for
 * live previews: each pixel's RGB is {@code factors^T · latent + bias} on the normalised latent (the space
 * the DiT works in), then mapped from [-1, 1] to 0..255 by {@code (x + 1) / 2}, clamped, times 255 and
 * truncated. Runs where the latent is (the device); only the uint8 result is copied to the host.
 */
public final class LatentRgb {
    private LatentRgb() {}

    /** Rows: the 16 latent channels; columns: red, green, blue. */
    private static final float[][] FACTORS = {
            {-0.1299f, -0.1692f, 0.2932f},
            {0.0671f, 0.0406f, 0.0442f},
            {0.3568f, 0.2548f, 0.1747f},
            {0.0372f, 0.2344f, 0.1420f},
            {0.0313f, 0.0189f, -0.0328f},
            {0.0296f, -0.0956f, -0.0665f},
            {-0.3477f, -0.4059f, -0.2925f},
            {0.0166f, 0.1902f, 0.1975f},
            {-0.0412f, 0.0267f, -0.1364f},
            {-0.1293f, 0.0740f, 0.1636f},
            {0.0680f, 0.3019f, 0.1128f},
            {0.0032f, 0.0581f, 0.0639f},
            {-0.1251f, 0.0927f, 0.1699f},
            {0.0060f, -0.0633f, 0.0005f},
            {0.3477f, 0.2275f, 0.2950f},
            {0.1984f, 0.0913f, 0.1861f}};
    private static final float[] BIAS = {-0.1835f, -0.0868f, -0.3360f};

    public static final int CHANNELS = FACTORS.length;

    /** The factors, [16][3] (a copy). */
    public static float[][] factors() {
        float[][] copy = new float[CHANNELS][];
        for (int c = 0; c < CHANNELS; c++) copy[c] = FACTORS[c].clone();
        return copy;
    }

    /** The bias, [3] (a copy). */
    public static float[] bias() { return BIAS.clone(); }

    /**
     * x0: the clean-latent estimate [C, F, H, W] or [1, C, F, H, W], C = 16, any float dtype, on any device →
     * the preview at latent resolution, on the host.
     */
    public static PreviewFrames preview(Tensor x0) {
        long began = System.nanoTime();
        try (PointerScope scope = new PointerScope()) {
            Tensor x = x0.dim() == 5 ? x0.select(0, 0) : x0;
            if (x.dim() != 4 || x.size(0) != CHANNELS)
                throw new IllegalArgumentException("a preview needs a latent [16, F, H, W], got " + Arrays.toString(x.sizes().vec().get()));
            int frames = Math.toIntExact(x.size(1)), height = Math.toIntExact(x.size(2)), width = Math.toIntExact(x.size(3));
            float[] w = new float[CHANNELS * 3];
            for (int c = 0; c < CHANNELS; c++) System.arraycopy(FACTORS[c], 0, w, c * 3, 3);
            Tensor weights = torch.from_blob(new FloatPointer(w), new long[]{CHANNELS, 3}).clone().to(x.device(), ScalarType.Float);
            Tensor bias = torch.from_blob(new FloatPointer(BIAS), new long[]{3}).clone().to(x.device(), ScalarType.Float);
            Tensor rgb = x.to(ScalarType.Float).permute(1, 2, 3, 0).matmul(weights).add(bias);        // [F, H, W, 3]
            rgb = rgb.add(new Scalar(1.0)).div(new Scalar(2.0))
                    .clamp(new ScalarOptional(new Scalar(0.0)), new ScalarOptional(new Scalar(1.0)))
                    .mul(new Scalar(255.0)).to(ScalarType.Byte).contiguous().cpu();                      // [F, H, W, 3] uint8
            byte[] bytes = new byte[Math.toIntExact(rgb.numel())];
            rgb.data_ptr_byte().get(bytes);
            return new PreviewFrames(frames, width, height, bytes, (System.nanoTime() - began) / 1e9);
        }
    }
}
