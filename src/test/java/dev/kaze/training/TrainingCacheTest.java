package dev.kaze.training;

import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.tensor.DType;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.SafetensorsWriter;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Latent and text caches in musubi-tuner's format: names, keys, metadata, values, reuse and invalidation. */
class TrainingCacheTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);
    private static WanModel model;
    private static WanPipeline pipeline;

    @TempDir
    Path dir;
    Path images;
    Path videos;
    PointerScope scope;

    @BeforeAll
    static void load() {
        model = WanModel.preview(null, CPU);
        pipeline = new WanPipeline(model, 0, 0);   // no in-memory text cache: every text encode runs the encoder
    }

    @AfterAll
    static void close() {
        pipeline.close();
        model.close();
    }

    @BeforeEach
    void media() throws IOException {
        scope = new PointerScope();
        images = Files.createDirectories(dir.resolve("images"));
        videos = Files.createDirectories(dir.resolve("videos"));
        TrainingDataCheckTest.png(images.resolve("a.png"), 64, 64, 0x336699);
        TrainingDataCheckTest.caption(images.resolve("a.png"), "a blue square");
        TrainingDataCheckTest.png(images.resolve("b.png"), 96, 64, 0x993366);
        TrainingDataCheckTest.caption(images.resolve("b.png"), "a wide red thing");
        TrainingDataCheckTest.clip(videos.resolve("c.mp4"), 9, 32, 32);
        TrainingDataCheckTest.caption(videos.resolve("c.mp4"), "grey fades in");
    }

    @AfterEach
    void release() {
        scope.close();
    }

    private DatasetConfig config(int resolution) throws IOException {
        Path file = dir.resolve("dataset.toml");
        Files.writeString(file, """
                [general]
                caption_extension = ".txt"
                enable_bucket = true
                [[datasets]]
                image_directory = "images"
                cache_directory = "cache/images"
                resolution = [%d, %d]
                num_repeats = 2
                [[datasets]]
                video_directory = "videos"
                cache_directory = "cache/videos"
                resolution = [32, 32]
                target_frames = [1, 5]
                """.formatted(resolution, resolution));
        return DatasetConfigReader.read(file);
    }

    /** Records "stem/T latent|text" for every cache encoded (not reused). */
    private static final class Encodes implements TrainingData.CacheListener {
        final List<String> encoded = new ArrayList<>();
        int items;

        @Override
        public void onItem(int done, int total, TrainingItem item, boolean latentReused, boolean textReused) {
            items++;
            assertThat(done).isEqualTo(items);
            if (!latentReused) encoded.add(item.stem() + "/" + item.frames() + " latent");
            if (!textReused && (!item.video() || item.start() == 0 && item.frames() == 1)) encoded.add(item.stem() + " text");
        }
    }

    private List<TrainingSample> prepare(DatasetConfig config, Encodes listener) {
        return TrainingData.prepare(pipeline, config, listener);
    }

    private Map<Path, FileTime> mtimes() throws IOException {
        Map<Path, FileTime> out = new LinkedHashMap<>();
        try (var s = Files.walk(dir.resolve("cache"))) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) out.put(p, Files.getLastModifiedTime(p));
        }
        return out;
    }

    @Test
    void cachesUseMusubiNamesKeysAndMetadataAndHoldWhatEncodeProduced() throws IOException {
        DatasetConfig config = config(64);
        Encodes first = new Encodes();
        List<TrainingSample> samples = prepare(config, first);

        assertThat(first.encoded).containsExactly("a/1 latent", "a text", "b/1 latent", "b text", "c/1 latent", "c text",
                "c/5 latent");
        assertThat(samples).hasSize(2 * 2 + 2);   // images twice (num_repeats 2), two windows of c once
        Path imageCache = dir.resolve("cache/images"), videoCache = dir.resolve("cache/videos");
        assertThat(Files.list(imageCache).map(p -> p.getFileName().toString()).sorted().toList()).containsExactly(
                "a_0064x0064_wan.safetensors", "a_wan_te.safetensors", "b_0096x0064_wan.safetensors", "b_wan_te.safetensors");
        assertThat(Files.list(videoCache).map(p -> p.getFileName().toString()).sorted().toList()).containsExactly(
                "c_00000-001_0032x0032_wan.safetensors", "c_00000-005_0032x0032_wan.safetensors", "c_wan_te.safetensors");

        // b (96x64) in a 64x64-area bucket list, no_upscale off: bucket 80x48 → latent 1x6x10
        try (SafetensorsFile f = SafetensorsFile.open(imageCache.resolve("b_0096x0064_wan.safetensors"))) {
            assertThat(f.entries().keySet()).containsExactly("latents_1x6x10_bfloat16");
            assertThat(f.entry("latents_1x6x10_bfloat16").spec().dtype()).isEqualTo(DType.BF16);
            assertThat(f.entry("latents_1x6x10_bfloat16").spec().shape()).containsExactly(16, 1, 6, 10);
            assertThat(f.metadata()).containsEntry("architecture", "wan").containsEntry("width", "96")
                    .containsEntry("height", "64").containsEntry("format_version", "1.0.1").doesNotContainKey("frame_count");
        }
        try (SafetensorsFile f = SafetensorsFile.open(videoCache.resolve("c_00000-005_0032x0032_wan.safetensors"))) {
            assertThat(f.entries().keySet()).containsExactly("latents_2x4x4_bfloat16");
            assertThat(f.entry("latents_2x4x4_bfloat16").spec().shape()).containsExactly(16, 2, 4, 4);
            assertThat(f.metadata()).containsEntry("frame_count", "5").containsEntry("width", "32").containsEntry("architecture", "wan");
        }
        try (SafetensorsFile f = SafetensorsFile.open(videoCache.resolve("c_wan_te.safetensors"))) {
            assertThat(f.entries().keySet()).containsExactly("varlen_t5_bfloat16");
            assertThat(f.entry("varlen_t5_bfloat16").spec().dtype()).isEqualTo(DType.BF16);
            assertThat(f.metadata()).containsEntry("caption1", "grey fades in").containsEntry("architecture", "wan")
                    .containsEntry("format_version", "1.0.1");
        }

        // the values are what TrainingSample.encode makes of the same pixels and caption, to bf16 rounding
        List<TrainingItem> items = TrainingData.check(config).datasets().stream().flatMap(d -> d.items().stream()).toList();
        TrainingItem c5 = items.get(3);
        assertThat(c5.frames()).isEqualTo(5);
        TrainingSample direct = TrainingSample.encode(pipeline, DatasetItems.pixels(c5), c5.caption());
        assertBf16Close(samples.get(5).latent(), direct.latent());
        assertBf16Close(samples.get(5).context(), direct.context());
        TrainingSample directB = TrainingSample.encode(pipeline, DatasetItems.pixels(items.get(1)), "a wide red thing");
        assertBf16Close(samples.get(2).latent(), directB.latent());
        assertThat(samples.get(3)).isSameAs(samples.get(2));
        assertThat(samples.get(4).context()).isSameAs(samples.get(5).context());   // windows share the video's context
        assertThat(samples.get(5).context().size(0)).isEqualTo(pipeline.encode("grey fades in").size(0));
    }

    /** Equal within bf16 rounding (8 bits of mantissa), and not all zero. */
    private static void assertBf16Close(Tensor actual, Tensor expected) {
        assertThat(actual.sizes().vec().get()).containsExactly(expected.sizes().vec().get());
        Tensor a = actual.to(torch.ScalarType.Float).contiguous(), e = expected.to(torch.ScalarType.Float).contiguous();
        float[] av = new float[(int) a.numel()], ev = new float[(int) e.numel()];
        a.data_ptr_float().get(av);
        e.data_ptr_float().get(ev);
        double maxAbs = 0;
        for (int i = 0; i < av.length; i++) {
            assertThat((double) av[i]).isCloseTo(ev[i], org.assertj.core.data.Offset.offset(Math.abs(ev[i]) / 256 + 1e-30));
            maxAbs = Math.max(maxAbs, Math.abs(ev[i]));
        }
        assertThat(maxAbs).isGreaterThan(0);
    }

    @Test
    void aSecondRunReusesEverythingAndChangesReEncodeOnlyWhatTheyTouch() throws IOException {
        prepare(config(64), new Encodes());
        Map<Path, FileTime> before = mtimes();

        Encodes again = new Encodes();
        List<TrainingSample> samples = prepare(config(64), again);
        assertThat(again.encoded).isEmpty();
        assertThat(again.items).isEqualTo(4);
        assertThat(samples).hasSize(6);
        assertThat(mtimes()).isEqualTo(before);

        TrainingDataCheckTest.caption(images.resolve("a.png"), "a blue square, recaptioned");
        TrainingDataCheckTest.png(images.resolve("b.png"), 96, 64, 0x112233);   // same size, other pixels
        Encodes changed = new Encodes();
        prepare(config(64), changed);
        assertThat(changed.encoded).containsExactly("a text", "b/1 latent");
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("cache/images/a_wan_te.safetensors"))) {
            assertThat(f.metadata()).containsEntry("caption1", "a blue square, recaptioned");
        }

        Encodes rebucketed = new Encodes();
        prepare(config(32), rebucketed);   // the image buckets change (file names do not: they carry the original size)
        assertThat(rebucketed.encoded).containsExactly("a/1 latent", "b/1 latent");
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("cache/images/a_0064x0064_wan.safetensors"))) {
            assertThat(f.entries().keySet()).containsExactly("latents_1x4x4_bfloat16");
        }
    }

    @Test
    void musubiMadeCachesAreReusedWhenNameShapeAndCaptionMatch() throws IOException {
        Path cache = Files.createDirectories(dir.resolve("cache/images"));
        // as musubi-tuner writes them: no kaze_ keys
        Tensor latent = torch.full(new long[]{16, 1, 8, 8}, dev.kaze.tensor.Ops.s(0.5), new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.BFloat16));
        SafetensorsWriter.write(cache.resolve("a_0064x0064_wan.safetensors"), Map.of("latents_1x8x8_bfloat16", latent),
                Map.of("architecture", "wan", "width", "64", "height", "64", "format_version", "1.0.1"));
        Tensor context = torch.full(new long[]{3, 32}, dev.kaze.tensor.Ops.s(-0.25), new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.BFloat16));
        SafetensorsWriter.write(cache.resolve("a_wan_te.safetensors"), Map.of("varlen_t5_bfloat16", context),
                Map.of("architecture", "wan", "caption1", "a blue square", "format_version", "1.0.1"));
        // b's text cache was made for another caption: it must be re-encoded
        SafetensorsWriter.write(cache.resolve("b_wan_te.safetensors"), Map.of("varlen_t5_bfloat16", context),
                Map.of("architecture", "wan", "caption1", "an old caption", "format_version", "1.0.1"));

        Encodes listener = new Encodes();
        List<TrainingSample> samples = prepare(config(64), listener);

        assertThat(listener.encoded).containsExactly("b/1 latent", "b text", "c/1 latent", "c text", "c/5 latent");
        assertThat(samples.getFirst().latent().sizes().vec().get()).containsExactly(16, 1, 8, 8);
        assertThat(samples.getFirst().latent().min().item_float()).isEqualTo(0.5f);
        assertThat(samples.getFirst().latent().max().item_float()).isEqualTo(0.5f);
        assertThat(samples.getFirst().context().sizes().vec().get()).containsExactly(3, 32);
        assertThat(samples.getFirst().context().max().item_float()).isEqualTo(-0.25f);
        try (SafetensorsFile f = SafetensorsFile.open(cache.resolve("b_wan_te.safetensors"))) {
            assertThat(f.metadata()).containsEntry("caption1", "a wide red thing");
        }

        // a musubi latent of another bucket (another key) is not reused
        SafetensorsWriter.write(cache.resolve("a_0064x0064_wan.safetensors"), Map.of("latents_1x4x4_bfloat16",
                torch.zeros(new long[]{16, 1, 4, 4}, new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.BFloat16))),
                Map.of("architecture", "wan", "width", "64", "height", "64", "format_version", "1.0.1"));
        Encodes rebucket = new Encodes();
        prepare(config(64), rebucket);
        assertThat(rebucket.encoded).containsExactly("a/1 latent");
    }
}
