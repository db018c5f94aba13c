package dev.kaze.pipeline;

import dev.kaze.pipeline.guidance.Guidance;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** End to end on the CPU with the built-in preview model: prompt → frames through WanPipeline. */
class WanPipelineTest {
    static WanModel model;
    static WanPipeline pipeline;

    @BeforeAll static void load() {
        model = WanModel.preview(null, new Device(torch.DeviceType.CPU));
        pipeline = new WanPipeline(model);
    }

    @AfterAll static void close() { model.close(); }

    static GenerateRequest small(String prompt, long seed, Guidance guidance) {
        return new GenerateRequest(prompt, null, 64, 48, 9, 16, 4, 5.0, seed, guidance, null);
    }

    @Test
    void promptToFramesWithProgressForEveryStep() {
        List<String> events = new ArrayList<>();
        GenerationListener listener = new GenerationListener() {
            @Override public void onStage(Stage stage) { events.add(stage.name()); }
            @Override public void onStep(int step, int total, double seconds) { events.add("step " + step + "/" + total); }
        };
        GeneratedVideo v = pipeline.generate(small("a cat walks through a meadow", 7, null), listener, () -> false);
        assertThat(events).containsExactly("TEXT", "DENOISE", "step 1/4", "step 2/4", "step 3/4", "step 4/4", "DECODE");
        assertThat(v.frames()).isEqualTo(9);
        assertThat(v.height()).isEqualTo(48);
        assertThat(v.width()).isEqualTo(64);
        assertThat(v.rgb()).hasSize(9 * 48 * 64 * 3);
        assertThat(v.modelId()).contains("preview");
        // the recipe is applied and recorded
        assertThat(v.request().prompt()).isEqualTo("Studio Ghibli style. a cat walks through a meadow");
        assertThat(v.request().triggerAdded()).isTrue();
        assertThat(v.request().negativePrompt()).startsWith("色调艳丽");
        assertThat(v.request().guidance()).isEqualTo(new dev.kaze.pipeline.guidance.Nag(11, 2.5, 0.25));
        // frames are not constant
        long distinct = java.util.stream.IntStream.range(0, 2000).map(i -> v.rgb()[i * 13 % v.rgb().length]).distinct().count();
        assertThat(distinct).isGreaterThan(10);
    }

    @Test
    void sameSeedSameFramesOtherSeedOtherFrames() {
        GeneratedVideo a = pipeline.generate(small("Studio Ghibli style. rain over a lake", 42, new Guidance.None()), GenerationListener.NONE, () -> false);
        GeneratedVideo b = pipeline.generate(small("Studio Ghibli style. rain over a lake", 42, new Guidance.None()), GenerationListener.NONE, () -> false);
        GeneratedVideo c = pipeline.generate(small("Studio Ghibli style. rain over a lake", 43, new Guidance.None()), GenerationListener.NONE, () -> false);
        assertThat(a.request().triggerAdded()).isFalse();
        assertThat(a.rgb()).isEqualTo(b.rgb());
        assertThat(a.rgb()).isNotEqualTo(c.rgb());
    }

    @Test
    void thePromptAndTheGuidanceChangeTheOutput() {
        GeneratedVideo a = pipeline.generate(small("a red fox", 1, new Guidance.None()), GenerationListener.NONE, () -> false);
        GeneratedVideo b = pipeline.generate(small("a blue whale", 1, new Guidance.None()), GenerationListener.NONE, () -> false);
        GeneratedVideo c = pipeline.generate(small("a red fox", 1, new Guidance.Cfg(5.0)), GenerationListener.NONE, () -> false);
        assertThat(a.rgb()).isNotEqualTo(b.rgb());
        assertThat(a.rgb()).isNotEqualTo(c.rgb());
    }

    @Test
    void cancellationIsHonouredBetweenSteps() {
        AtomicInteger steps = new AtomicInteger();
        GenerationListener listener = new GenerationListener() {
            @Override public void onStage(Stage stage) {}
            @Override public void onStep(int step, int total, double seconds) { steps.set(step); }
        };
        assertThatThrownBy(() -> pipeline.generate(small("a cat", 3, null), listener, () -> steps.get() >= 2))
                .isInstanceOf(CancelledException.class).hasMessageContaining("after 2");
        assertThat(steps.get()).isEqualTo(2);
        // the pipeline still works afterwards
        assertThat(pipeline.generate(small("a cat", 3, null), GenerationListener.NONE, () -> false).frames()).isEqualTo(9);
    }

    @Test
    void aRenderResumedFromItsCheckpointEndsAsAnUninterruptedOne() {
        GenerateRequest.Resolved r = pipeline.resolve(small("a paper boat on a stream", 11, null));
        java.util.Map<Integer, byte[]> saved = new java.util.HashMap<>();
        GeneratedVideo whole = pipeline.generate(r, GenerationListener.NONE, () -> false, null,
                (scheduler, latent, done) -> saved.put(done, RenderCheckpoint.save(scheduler, latent)));
        assertThat(saved.keySet()).containsExactlyInAnyOrder(1, 2, 3);
        List<Integer> resumedSteps = new ArrayList<>();
        GenerationListener steps = new GenerationListener() {
            @Override public void onStage(Stage stage) {}
            @Override public void onStep(int step, int total, double seconds) { resumedSteps.add(step); }
        };
        GeneratedVideo resumed = pipeline.generate(r, steps, () -> false, saved.get(2), DenoisingLoop.Checkpoints.NONE);
        assertThat(resumedSteps).containsExactly(3, 4);
        assertThat(resumed.rgb()).isEqualTo(whole.rgb());
    }

    @Test
    void requestsAreValidatedNamingTheField() {
        assertThatThrownBy(() -> new GenerateRequest("x", null, 640, 480, 80, null, null, null, null, null, null))
                .hasMessageStartingWith("frames:").hasMessageContaining("4k+1");
        assertThatThrownBy(() -> new GenerateRequest("x", null, 650, 480, 81, null, null, null, null, null, null))
                .hasMessageStartingWith("width:").hasMessageContaining("multiple of 16");
        assertThatThrownBy(() -> new GenerateRequest("x", null, null, null, null, null, 0, null, null, null, null))
                .hasMessageStartingWith("steps:");
        assertThatThrownBy(() -> new GenerateRequest(" ", null, null, null, null, null, null, null, null, null, null))
                .hasMessageStartingWith("prompt:");
        assertThatThrownBy(() -> new GenerateRequest("x".repeat(5000), null, null, null, null, null, null, null, null, null, null))
                .hasMessageStartingWith("prompt:");
        assertThatThrownBy(() -> new GenerateRequest.LoraRef("../etc/passwd", 1)).hasMessageStartingWith("loras:");
        assertThatThrownBy(() -> new GenerateRequest.LoraRef("ghibli", Double.NaN)).hasMessageStartingWith("loras:");
        assertThatThrownBy(() -> pipeline.resolve(new GenerateRequest("x", null, null, null, null, null, null, null, null, null,
                List.of(new GenerateRequest.LoraRef("ghibli", 1.0))))).hasMessageStartingWith("loras:").hasMessageContaining("ghibli");
    }
}
