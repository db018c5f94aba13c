package dev.kaze.training;

import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.lora.LoraFile;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraTrainerTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);
    private static final double LR = 1e-2;
    private static WanModel model;
    private static List<TrainingSample> samples;
    @TempDir static Path tmp;
    private static LoraTrainer.Result full;
    private static final List<Double> fullLosses = new ArrayList<>();

    private static TrainingArgs args(int saveEvery) {
        return new TrainingArgs(8, 8, LR, 30, 2025, 3.0, 1.0, saveEvery, "moving");
    }

    /** 9 frames at 32×32: a bright square moving right, horizontal stripes moving down, or a colour ramp moving left. */
    private static List<RgbImage> clip(int kind) {
        return movingClip(kind, 9, 2);
    }

    /**
     * frames frames at 32×32 of kind 0 (a bright square moving right by squareStep pixels a frame), 1 (horizontal stripes
     * moving down) or 2 (a colour ramp moving left).
     */
    static List<RgbImage> movingClip(int kind, int frameCount, int squareStep) {
        List<RgbImage> frames = new ArrayList<>();
        for (int f = 0; f < frameCount; f++) {
            byte[] rgb = new byte[32 * 32 * 3];
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    int i = (y * 32 + x) * 3;
                    switch (kind) {
                        case 0 -> { boolean in = x >= 2 + squareStep * f && x < 12 + squareStep * f && y >= 10 && y < 20; rgb[i] = (byte) (in ? 240 : 20); rgb[i + 1] = (byte) (in ? 200 : 30); rgb[i + 2] = 40; }
                        case 1 -> { boolean on = ((y + 2 * f) / 4) % 2 == 0; rgb[i] = 30; rgb[i + 1] = (byte) (on ? 220 : 40); rgb[i + 2] = (byte) (on ? 90 : 200); }
                        default -> { int v = ((x + 3 * f) * 8) & 0xff; rgb[i] = (byte) v; rgb[i + 1] = (byte) (255 - v); rgb[i + 2] = (byte) (y * 8); }
                    }
                }
            frames.add(new RgbImage(32, 32, rgb));
        }
        return frames;
    }

    @BeforeAll static void setUp() {
        model = WanModel.preview(null, CPU);
        samples = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); WanPipeline pipeline = new WanPipeline(model)) {
            String[] captions = {"a yellow square slides to the right", "green stripes scroll down", "a colour ramp drifts left"};
            for (int k = 0; k < 3; k++) {
                TrainingSample s = TrainingSample.encode(pipeline, clip(k), captions[k]);
                s.latent().retainReference();
                s.context().retainReference();
                samples.add(s);
            }
        }
        assertEquals(List.of(16L, 3L, 4L, 4L), java.util.Arrays.stream(samples.getFirst().latent().sizes().vec().get()).boxed().toList());
        full = new LoraTrainer(model, args(0), samples).train(tmp.resolve("full"), (step, max, epoch, loss, avg, lr) -> fullLosses.add(loss));
    }

    @AfterAll static void tearDown() {
        for (TrainingSample s : samples) { s.latent().releaseReference(); s.context().releaseReference(); }
        model.close();
    }

    @Test void lossFallsOverThirtySteps() {
        assertEquals(30, fullLosses.size());
        double first = fullLosses.subList(0, 10).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = fullLosses.subList(20, 30).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        System.out.printf("LoraTrainerTest: mean loss steps 1-10 %.5f, steps 21-30 %.5f%n", first, last);
        assertTrue(last < 0.9 * first, "mean loss of the last 10 steps (" + last + ") must be clearly below the first 10's (" + first + ")");
        assertEquals(30, full.steps());
        assertTrue(Files.isRegularFile(full.lora()) && Files.isDirectory(full.state()));
    }

    @Test void resumedRunEndsBitEqualToAnUninterruptedOne(@TempDir Path out) {
        List<Double> losses = new ArrayList<>();
        LoraTrainer trainer = new LoraTrainer(model, args(12), samples);
        LoraTrainer.Result first = trainer.train(out, new TrainingListener() {
            @Override public void onStep(int step, int max, int epoch, double loss, double avg, double lr) { losses.add(loss); }
            @Override public boolean stopRequested() { return losses.size() == 12; }
        });
        assertTrue(first.stopped());
        assertEquals(12, first.steps());
        Path state = out.resolve("moving-step00000012-state");
        assertTrue(Files.isRegularFile(out.resolve("moving-step00000012.safetensors")));
        assertEquals(12, TrainingState.read(state).globalStep());
        LoraTrainer.Result rest = trainer.resume(state, out.resolve("resumed"), (step, max, epoch, loss, avg, lr) -> losses.add(loss));
        assertEquals(30, rest.steps());
        assertEquals(fullLosses, losses, "every step's loss matches the uninterrupted run");
        try (PointerScope scope = new PointerScope();
             LoraNetwork a = TrainingState.readNetwork(full.state(), model.ditConfig(), CPU);
             LoraNetwork b = TrainingState.readNetwork(rest.state(), model.ditConfig(), CPU)) {
            for (var e : a.parameters().entrySet())
                assertTrue(torch.equal(e.getValue(), b.parameters().get(e.getKey())), e.getKey() + " differs after resume");
        }
    }

    @Test void savedLoraLoadsAndChangesTheDit(@TempDir Path loraDir) throws Exception {
        Files.copy(full.lora(), loraDir.resolve("moving.safetensors"));
        try (WanModel m = WanModel.preview(loraDir, CPU); PointerScope scope = new PointerScope()) {
            try (LoraFile f = LoraFile.read(loraDir.resolve("moving.safetensors"), WanModel.previewDitShapes())) {
                assertEquals(10 * m.ditConfig().numLayers(), f.targets().size(), "one target per block Linear: " + f.targets());
            }
            torch.manual_seed(5);
            Tensor x = torch.randn(1, 16, 3, 4, 4), t = torch.tensor(600.0f).reshape(1);
            Tensor ctx = samples.getFirst().context();
            WanDit plain = m.dit(List.of());
            Tensor without = plain.forward(x, t, plain.embedContext(ctx), null, null).clone();
            WanDit withLora = m.dit(List.of(new GenerateRequest.LoraRef("moving", 1.0)));
            Tensor with = withLora.forward(x, t, withLora.embedContext(ctx), null, null);
            assertFalse(torch.equal(without, with), "the trained LoRA must change the DiT's output");
            assertTrue(with.sub(without).abs().max().item_double() > 1e-4);
        }
    }
}
