package dev.kaze.pipeline.vae;

import dev.kaze.tensor.SafetensorsFile;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WanVaeTest {
    private static final Path FIXTURES =
            Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity"));
    private static WanVae vae;

    @BeforeAll
    static void load() {
        vae = WanVae.load(FIXTURES.resolve("vae.safetensors"), new Device(torch.DeviceType.CPU), torch.ScalarType.Float);
    }

    @AfterAll
    static void close() { vae.close(); }

    private static Tensor fixtureLatent() {
        try (SafetensorsFile f = SafetensorsFile.open(FIXTURES.resolve("cases/vae_decode.safetensors"))) {
            return f.tensor("latent");                                     // [1, 16, 3, 4, 6]
        }
    }

    @Test
    void readsTheConfigFromTheCheckpointMetadata() {
        assertEquals(new VaeConfig(8, 16, List.of(1, 2, 4, 4), 1, List.of(), List.of(false, true, true)), vae.config());
        assertEquals(LatentScale.WAN21, vae.latentScale());
        assertEquals(4, vae.config().temporalStride());
        assertEquals(8, vae.config().spatialStride());
    }

    @Test
    void streamingDecodeGivesTheFramesOfWholeDecodeOnePlusFourPerLatentFrame() {
        try (PointerScope scope = new PointerScope()) {
            Tensor all = fixtureLatent();
            for (int f = 1; f <= 3; f++) {
                Tensor latent = all.narrow(2, 0, f);
                Tensor whole = vae.decode(latent);
                List<Tensor> chunks = new ArrayList<>();
                vae.decode(latent, chunk -> {
                    scope.attach(chunk);
                    chunks.add(chunk);
                });
                assertEquals(f, chunks.size(), "one chunk per latent frame");
                for (int i = 0; i < f; i++)
                    assertEquals(i == 0 ? 1 : 4, chunks.get(i).size(2), "frames in chunk " + i);
                assertArrayEquals(new long[]{1, 3, 1 + 4L * (f - 1), 32, 48}, whole.sizes().vec().get());
                Tensor streamed = torch.cat(new TensorVector(chunks.toArray(Tensor[]::new)), 2);
                assertTrue(torch.equal(streamed, whole), "streamed frames differ from whole decode for F=" + f);
                assertTrue(whole.abs().max().item_double() <= 1.0, "decode clamps to [-1, 1]");
            }
        }
    }

    @Test
    void encodeGivesOneLatentFramePerChunkOfFour() {
        try (PointerScope scope = new PointerScope()) {
            Tensor video = torch.rand(1, 3, 5, 16, 24).mul(new org.bytedeco.pytorch.Scalar(2)).sub(new org.bytedeco.pytorch.Scalar(1));
            assertArrayEquals(new long[]{1, 16, 2, 2, 3}, vae.encode(video).sizes().vec().get());
            assertArrayEquals(new long[]{1, 16, 1, 2, 3}, vae.encode(video.narrow(2, 0, 1)).sizes().vec().get());
        }
    }

    @Test
    void toUint8FramesRoundsAndClampsChannelsLast() {
        try (PointerScope scope = new PointerScope()) {
            // video [1, 3, T=1, H=1, W=4]: per pixel (r, g, b)
            float[] r = {-1f, 1f, 0f, 1.5f}, g = {-2f, 0.5f, -0.5f, 0.003f}, b = {0.9999f, -0.9999f, 0.25f, -0.0039f};
            float[] values = new float[12];
            System.arraycopy(r, 0, values, 0, 4);
            System.arraycopy(g, 0, values, 4, 4);
            System.arraycopy(b, 0, values, 8, 4);
            Tensor video = torch.from_blob(new FloatPointer(values), 1, 3, 1, 1, 4).clone();
            Tensor u8 = WanVae.toUint8Frames(video);
            assertEquals(torch.ScalarType.Byte, u8.scalar_type().intern());
            assertArrayEquals(new long[]{1, 1, 4, 3}, u8.sizes().vec().get());
            // round((x + 1) * 127.5), clamped to 0..255; 127.5 rounds half to even (128)
            long[][] expected = {{0, 0, 255}, {255, 191, 0}, {128, 64, 159}, {255, 128, 127}};
            Tensor flat = u8.to(torch.ScalarType.Long).reshape(4, 3).contiguous();
            for (int p = 0; p < 4; p++)
                for (int c = 0; c < 3; c++)
                    assertEquals(expected[p][c], flat.get(p).get(c).item_long(), "pixel " + p + " channel " + c);
        }
    }

    @Test
    void rejectsVideoWithoutThreeChannels() {
        try (PointerScope scope = new PointerScope()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> vae.encode(torch.zeros(1, 4, 1, 8, 8)));
            assertTrue(e.getMessage().contains("[1, 4, 1, 8, 8]"), e.getMessage());
        }
    }
}
