package dev.kaze.pipeline.preview;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The latent→RGB preview against ComfyUI's published Wan21 {@code latent_rgb_factors} and
 * {@code latent_rgb_factors_bias} (comfy/latent_formats.py, class Wan21), applied here with plain arithmetic
 * and ComfyUI's mapping to bytes: ((x + 1) / 2).clamp(0, 1) · 255, truncated.
 */
class LatentRgbTest {
    // comfy/latent_formats.py, Wan21.latent_rgb_factors (rows: latent channels; columns: R, G, B), as published
    static final double[][] PUBLISHED = {
            {-0.1299, -0.1692, 0.2932}, {0.0671, 0.0406, 0.0442}, {0.3568, 0.2548, 0.1747}, {0.0372, 0.2344, 0.1420},
            {0.0313, 0.0189, -0.0328}, {0.0296, -0.0956, -0.0665}, {-0.3477, -0.4059, -0.2925}, {0.0166, 0.1902, 0.1975},
            {-0.0412, 0.0267, -0.1364}, {-0.1293, 0.0740, 0.1636}, {0.0680, 0.3019, 0.1128}, {0.0032, 0.0581, 0.0639},
            {-0.1251, 0.0927, 0.1699}, {0.0060, -0.0633, 0.0005}, {0.3477, 0.2275, 0.2950}, {0.1984, 0.0913, 0.1861}};
    static final double[] PUBLISHED_BIAS = {-0.1835, -0.0868, -0.3360};

    static int expected(double[] channels, int rgb) {
        double x = PUBLISHED_BIAS[rgb];
        for (int c = 0; c < 16; c++) x += channels[c] * PUBLISHED[c][rgb];
        return (int) (Math.min(1, Math.max(0, (x + 1) / 2)) * 255);
    }

    @Test
    void mapsEachPixelWithTheWan21FactorsAndBias() {
        int frames = 2, h = 3, w = 4;
        float[] data = new float[16 * frames * h * w];                   // [C, F, H, W]
        double[][][][] pix = new double[frames][h][w][16];
        for (int c = 0; c < 16; c++)
            for (int f = 0; f < frames; f++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        // a one-hot channel per pixel (scaled) plus a spread, so every factor row is exercised
                        double v = ((c + 3 * f + 5 * y + 7 * x) % 16 == 0 ? 2.5 : 0) + 0.1 * Math.sin(c * 1.3 + f + y * 0.7 + x * 0.3);
                        data[((c * frames + f) * h + y) * w + x] = (float) v;
                        pix[f][y][x][c] = (float) v;
                    }
        try (PointerScope scope = new PointerScope()) {
            Tensor latent = torch.from_blob(new FloatPointer(data), new long[]{16, frames, h, w}).clone();
            PreviewFrames p = LatentRgb.preview(latent);
            assertThat(p.frames()).isEqualTo(frames);
            assertThat(p.width()).isEqualTo(w);
            assertThat(p.height()).isEqualTo(h);
            int exact = 0;
            for (int f = 0; f < frames; f++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        for (int k = 0; k < 3; k++) {
                            int want = expected(pix[f][y][x], k), got = p.pixel(f, x, y)[k];
                            assertThat(got).as("frame %d (%d,%d) channel %d", f, x, y, k).isBetween(want - 1, want + 1);   // float vs double at a truncation edge
                            if (got == want) exact++;
                        }
            assertThat(exact).isGreaterThan(frames * h * w * 3 * 9 / 10);
            // the batch dimension the loop's latent has is accepted too
            assertThat(LatentRgb.preview(latent.unsqueeze(0)).rgb()).isEqualTo(p.rgb());
        }
    }

    @Test
    void aZeroLatentIsTheBiasColourAndSaturatedLatentsClamp() {
        try (PointerScope scope = new PointerScope()) {
            PreviewFrames zero = LatentRgb.preview(torch.zeros(16, 1, 1, 1));
            // (bias + 1) / 2 · 255: R (−0.1835 + 1)/2·255 = 104.1, G 116.9, B 84.66
            assertThat(zero.pixel(0, 0, 0)).containsExactly(104, 116, 84);
            float[] big = new float[16];
            big[14] = 100f;   // channel 14's factors are all positive: white
            big[6] = 0f;
            assertThat(LatentRgb.preview(torch.from_blob(new FloatPointer(big), new long[]{16, 1, 1, 1}).clone()).pixel(0, 0, 0))
                    .containsExactly(255, 255, 255);
            big[14] = 0f;
            big[6] = 100f;    // channel 6's are all negative: black
            assertThat(LatentRgb.preview(torch.from_blob(new FloatPointer(big), new long[]{16, 1, 1, 1}).clone()).pixel(0, 0, 0))
                    .containsExactly(0, 0, 0);
        }
    }

    @Test
    void refusesALatentWithoutSixteenChannels() {
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> LatentRgb.preview(torch.zeros(4, 1, 2, 2))).hasMessageContaining("[16, F, H, W]");
        }
    }
}
