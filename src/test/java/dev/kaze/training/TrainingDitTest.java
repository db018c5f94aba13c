package dev.kaze.training;

import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.ModelOptions;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.tensor.WeightStorage;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A training with fp8_base, fp8_scaled and blocks_to_swap runs over a DiT built for it from the model's base weights:
 * its losses are bit-identical to a run over a model serving a DiT built with those options, the served DiT is
 * rebuilt afterwards, and the DiT built for the run is freed.
 */
class TrainingDitTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);
    private static final String ARGS = """
            {"network_dim": 4, "network_alpha": 4, "learning_rate": 0.01, "max_train_steps": 3, "seed": 11, "output_name": "fp8",
             "fp8_base": true, "fp8_scaled": true, "blocks_to_swap": 1, "gradient_checkpointing": true, "optimizer_type": "adamw8bit",
             "save_state": false}""";
    private static final WeightStorage FP8_SCALED = WeightStorage.blockwise(WeightStorage.Format.FP8_E4M3, 64);
    private static WanModel served;        // serves float32, every block resident: the run needs a DiT of its own
    private static WanModel fp8Served;     // serves the DiT the run asks for
    private static List<TrainingSample> samples;
    @TempDir static Path tmp;

    @BeforeAll static void setUp() {
        served = WanModel.preview(null, CPU);
        fp8Served = WanModel.preview(null, CPU, new ModelOptions(FP8_SCALED, ModelOptions.BlocksToSwap.of(1), ModelOptions.DEFAULT_BUDGET, false));
        samples = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); WanPipeline pipeline = new WanPipeline(served)) {
            for (int k = 0; k < 2; k++) {
                List<RgbImage> frames = new ArrayList<>();
                for (int f = 0; f < 5; f++) {
                    byte[] rgb = new byte[32 * 32 * 3];
                    for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) ((i * (k + 3) + f * 17) & 0xff);
                    frames.add(new RgbImage(32, 32, rgb));
                }
                TrainingSample s = TrainingSample.encode(pipeline, frames, "pattern " + k);
                s.latent().retainReference();
                s.context().retainReference();
                samples.add(s);
            }
        }
    }

    @AfterAll static void tearDown() {
        for (TrainingSample s : samples) { s.latent().releaseReference(); s.context().releaseReference(); }
        served.close();
        fp8Served.close();
    }

    private static TrainingArgs args() { return TrainingArgs.fromJson(Json.MAPPER.readTree(ARGS)); }

    private record Run(List<Double> losses, LoraTrainer.Result result) {}

    private static Run train(WanModel model, String dir) {
        List<Double> losses = new ArrayList<>();
        LoraTrainer.Result r = new LoraTrainer(model, args(), samples).train(tmp.resolve(dir), (step, max, epoch, loss, avg, lr) -> losses.add(loss));
        return new Run(losses, r);
    }

    @Test void theRunsDitIsBuiltWithItsOptionsAndTrainsAsOneBuiltDirectlyWithThem() {
        LoraTrainer trainer = new LoraTrainer(served, args(), samples);
        assertThat(trainer.ditOptions().storage()).isEqualTo(FP8_SCALED);
        assertThat(trainer.ditOptions().blocksToSwap()).isEqualTo(1);

        long builds = served.trainingDitBuilds();
        Run separate = train(served, "separate");
        assertThat(served.trainingDitBuilds()).isEqualTo(builds + 1);
        assertThat(separate.result().dit().separate()).isTrue();
        assertThat(separate.result().dit().blocksSwapped()).isEqualTo(1);
        assertThat(separate.result().dit().storage()).startsWith("float8_e4m3fn: ").contains("block-wise scales (64 columns)");
        // the served DiT is float32 again, all blocks resident, once a render asks for it
        assertThat(served.dit(List.<GenerateRequest.LoraRef>of()).blockLinear("blocks.0.ffn.2.weight").isFloat8()).isFalse();
        assertThat(served.ditOptions().storage()).isEqualTo(WeightStorage.COMPUTE);

        long fp8Builds = fp8Served.trainingDitBuilds();
        Run direct = train(fp8Served, "direct");
        assertThat(fp8Served.trainingDitBuilds()).as("the served DiT has the run's options: reused").isEqualTo(fp8Builds);
        assertThat(direct.result().dit().separate()).isFalse();
        assertThat(direct.result().dit()).isEqualTo(new LoraTrainer.TrainedDit(separate.result().dit().storage(), 1, false));

        assertThat(separate.losses()).hasSize(3).isEqualTo(direct.losses());   // bit-identical (Double equality)
        assertThat(train(served, "again").losses()).as("a second run over a DiT built again").isEqualTo(separate.losses());
    }

    @Test void aRunWithItsOwnDitLeavesNativeMemoryFlat() {
        train(served, "warm");
        served.dit(List.<GenerateRequest.LoraRef>of());
        long pointers = Pointer.totalCount();
        for (int i = 0; i < 3; i++) {
            train(served, "flat" + i);
            served.dit(List.<GenerateRequest.LoraRef>of());   // the served DiT back, as a render would have it
            // process-wide count: other threads may release pointers meanwhile, so "no more than"
            assertThat(Pointer.totalCount()).as("live JavaCPP pointers after run " + (i + 2)).isLessThanOrEqualTo(pointers);
        }
    }
}
