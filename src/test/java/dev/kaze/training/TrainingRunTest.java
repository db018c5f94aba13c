package dev.kaze.training;

import dev.kaze.json.Json;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.tensor.SafetensorsFile;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A whole run on the preview model by epochs: epoch saves, samples, the step log, the loss chart, metadata, resume. */
class TrainingRunTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);
    private static final String ARGS = """
            {"network_dim": 4, "network_alpha": 4, "learning_rate": 1e-2, "max_train_epochs": 2, "seed": 7,
             "save_every_n_epochs": 1, "sample_every_n_epochs": 1, "sample_at_first": true, "gradient_checkpointing": true,
             "output_name": "run", "sample_prompts": ["a red square --w 32 --h 32 --s 2 --d 3", "stripes --W 48 --h 32 --f 5 --s 2 --l 1.0"]}""";
    private static WanModel model;
    private static List<TrainingSample> samples;
    @TempDir static Path out;
    private static final List<Double> losses = new ArrayList<>();
    private static final List<String> sampled = new ArrayList<>();
    private static LoraTrainer.Result result;
    private static boolean baseUnchanged;

    private static List<RgbImage> clip(int kind) {
        List<RgbImage> frames = new ArrayList<>();
        for (int f = 0; f < 5; f++) {
            byte[] rgb = new byte[32 * 32 * 3];
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    int i = (y * 32 + x) * 3;
                    int v = kind == 0 ? ((x + 3 * f) * 8) & 0xff : (((y + 2 * f) / 4) % 2) * 200 + 30;
                    rgb[i] = (byte) v; rgb[i + 1] = (byte) (255 - v); rgb[i + 2] = (byte) (kind * 90 + f * 10);
                }
            frames.add(new RgbImage(32, 32, rgb));
        }
        return frames;
    }

    private static TrainingArgs args(String json) { return TrainingArgs.fromJson(Json.MAPPER.readTree(json)); }

    @BeforeAll static void run() {
        model = WanModel.preview(null, CPU);
        samples = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); WanPipeline pipeline = new WanPipeline(model)) {
            for (int k = 0; k < 3; k++) {
                TrainingSample s = TrainingSample.encode(pipeline, clip(k % 2), "clip " + k);
                s.latent().retainReference();
                s.context().retainReference();
                samples.add(s);
            }
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor before = model.dit(List.of()).parameter("blocks.0.self_attn.q.weight").clone();
            result = new LoraTrainer(model, args(ARGS), samples).train(out, new TrainingListener() {
                @Override public void onStep(int step, int max, int epoch, double loss, double avg, double lr) { losses.add(loss); }
                @Override public void onSample(Path file, int step, int epoch) { sampled.add(file.getFileName() + "@" + step + "/" + epoch); }
            });
            baseUnchanged = torch.equal(before, model.dit(List.of()).parameter("blocks.0.self_attn.q.weight"));
        }
    }

    @AfterAll static void tearDown() {
        for (TrainingSample s : samples) { s.latent().releaseReference(); s.context().releaseReference(); }
        model.close();
    }

    @Test void epochsBecomeStepsAndSavesAreNamedAsMusubiNamesThem() {
        assertEquals(6, losses.size(), "2 epochs of 3 samples");
        assertEquals(6, result.steps());
        assertTrue(Files.isRegularFile(out.resolve("run-000001.safetensors")));
        assertTrue(Files.isDirectory(out.resolve("run-000001-state")));
        assertFalse(Files.exists(out.resolve("run-000002.safetensors")), "the last epoch is saved as the final LoRA only");
        assertEquals(out.resolve("run.safetensors"), result.lora());
        assertEquals(out.resolve("run-state"), result.state());
    }

    @Test void samplesAtFirstAndAfterEveryEpochWithTheBaseUntouched() throws Exception {
        assertTrue(baseUnchanged, "sampling with the LoRA applied must leave the base weights as they were");
        assertEquals(6, sampled.size(), sampled.toString());
        List<String> files;
        try (Stream<Path> s = Files.list(out.resolve("sample"))) {
            files = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertEquals(6, files.size(), files.toString());
        for (int e = 0; e <= 2; e++) {
            String ep = String.format("e%06d", e);
            assertTrue(files.stream().anyMatch(f -> f.matches("run_" + ep + "_00_\\d{14}_3\\.png")), ep + " image sample: " + files);
            assertTrue(files.stream().anyMatch(f -> f.matches("run_" + ep + "_01_\\d{14}_\\d+\\.mp4")), ep + " video sample: " + files);
        }
        Path png = Files.list(out.resolve("sample")).filter(p -> p.toString().endsWith(".png")).findFirst().orElseThrow();
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(32, img.getWidth());
        assertEquals(32, img.getHeight());
        Path mp4 = Files.list(out.resolve("sample")).filter(p -> p.toString().endsWith(".mp4")).findFirst().orElseThrow();
        var info = dev.kaze.video.VideoProbe.probe(mp4);
        assertEquals(48, info.width());
        assertEquals(32, info.height());
        assertEquals(5, info.frameCount());
        assertEquals(16.0, (double) info.fps().num() / info.fps().den(), 1e-9);
    }

    @Test void samplingDoesNotDisturbTraining(@TempDir Path plain) {
        List<Double> without = new ArrayList<>();
        new LoraTrainer(model, args(ARGS.replace("\"sample_at_first\": true", "\"sample_at_first\": false")
                .replace("\"sample_every_n_epochs\": 1", "\"sample_every_n_epochs\": null")), samples)
                .train(plain, (step, max, epoch, loss, avg, lr) -> without.add(loss));
        assertEquals(losses, without);
    }

    @Test void logHasOneLinePerStep() throws Exception {
        List<String> lines = Files.readAllLines(out.resolve("run.log.jsonl"));
        assertEquals(6, lines.size());
        for (int i = 0; i < 6; i++) {
            JsonNode n = Json.MAPPER.readTree(lines.get(i));
            assertEquals(List.of("step", "epoch", "loss", "avg_loss", "lr", "timestep", "grad_norm", "seconds"), List.copyOf(n.propertyNames()));
            assertEquals(i + 1, n.get("step").intValue());
            assertEquals(i < 3 ? 1 : 2, n.get("epoch").intValue());
            assertEquals(losses.get(i), n.get("loss").doubleValue(), 0.0);
            assertEquals(0.01, n.get("lr").doubleValue(), 0.0);
            double t = n.get("timestep").doubleValue();
            assertTrue(t >= 1 && t <= 1001, "model timestep t·1000 + 1: " + t);
            assertTrue(n.get("grad_norm").doubleValue() > 0);
        }
    }

    @Test void lossChartIsAnImageWithACurve() throws Exception {
        BufferedImage img = ImageIO.read(out.resolve("run-loss.png").toFile());
        assertEquals(LossChart.WIDTH, img.getWidth());
        assertEquals(LossChart.HEIGHT, img.getHeight());
        int drawn = 0, curve = 0;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xffffff;
                if (rgb != 0xffffff) drawn++;
                int r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff;
                if (x > 80 && y > 60 && r > 150 && g < 120 && b < 100) curve++;   // the moving-average colour, inside the plot
            }
        assertTrue(drawn > 2000, "axes, labels and curves drawn: " + drawn + " pixels");
        assertTrue(curve > 100, "the moving average is drawn: " + curve + " pixels");
    }

    @Test void metadataAsMusubiWritesIt() {
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("run-000001.safetensors"))) {
            Map<String, String> m = f.metadata();
            assertEquals("1", m.get("ss_epoch"));
            assertEquals("3", m.get("ss_steps"));
            assertEquals("2", m.get("ss_num_epochs"));
            assertEquals("6", m.get("ss_max_train_steps"));
            assertEquals("3", m.get("ss_num_batches_per_epoch"));
            assertEquals("0.01", m.get("ss_learning_rate"));
            assertEquals("True", m.get("ss_gradient_checkpointing"));
            assertEquals("4", m.get("ss_network_dim"));
            assertEquals("4.0", m.get("ss_network_alpha"));
            assertEquals("7", m.get("ss_seed"));
            assertEquals("shift", m.get("ss_timestep_sampling"));
            assertEquals("constant", m.get("ss_lr_scheduler"));
            assertEquals("networks.lora_wan", m.get("ss_network_module"));
            assertEquals("torch.optim.adamw.AdamW", m.get("ss_optimizer"));
            assertEquals("False", m.get("ss_fp8_base"));
            assertEquals("run", m.get("ss_output_name"));
            assertEquals("run", m.get("modelspec.title"));
            assertTrue(m.get("ss_session_id").matches("\\d+"));
            assertTrue(m.get("ss_training_started_at").matches("\\d+"));
        }
    }

    /** Stopped after step 4, resumed from the epoch-1 state (step 3) into the same directory: each step logged once. */
    @Test void resumedLogHasNoDuplicateSteps(@TempDir Path dir) throws Exception {
        String json = ARGS.replace("\"sample_at_first\": true", "\"sample_at_first\": false").replace("\"sample_every_n_epochs\": 1", "\"sample_every_n_epochs\": null");
        LoraTrainer trainer = new LoraTrainer(model, args(json), samples);
        List<Double> seen = new ArrayList<>();
        trainer.train(dir, new TrainingListener() {
            @Override public void onStep(int step, int max, int epoch, double loss, double avg, double lr) { seen.add(loss); }
            @Override public boolean stopRequested() { return seen.size() == 4; }
        });
        assertEquals(4, Files.readAllLines(dir.resolve("run.log.jsonl")).size());
        trainer.resume(dir.resolve("run-000001-state"), dir, TrainingListener.NONE);
        List<String> lines = Files.readAllLines(dir.resolve("run.log.jsonl"));
        assertEquals(List.of(1, 2, 3, 4, 5, 6), lines.stream().map(l -> Json.MAPPER.readTree(l).get("step").intValue()).toList());
        for (int i = 0; i < 6; i++) assertEquals(losses.get(i), Json.MAPPER.readTree(lines.get(i)).get("loss").doubleValue(), 0.0, "step " + (i + 1));
    }
}
