package dev.kaze.training;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DatasetConfigReaderTest {
    /** The reference dataset TOML of the Ghibli LoRA (recipe.md) with only its Windows paths changed (made relative). */
    static final String REFERENCE = """
            [general]
            caption_extension = ".txt"
            enable_bucket = true
            bucket_no_upscale = true

            [[datasets]]
            image_directory = "images/768x768"
            cache_directory = "images/768x768/cache"
            resolution = [768, 768]
            batch_size = 1
            num_repeats = 1

            [[datasets]]
            video_directory = "videos/1920x1040"
            cache_directory = "videos/1920x1040/cache_1"
            resolution = [768, 416]
            batch_size = 1
            num_repeats = 1
            frame_extraction = "head"
            target_frames = [1, 21]

            [[datasets]]
            video_directory = "videos/1920x1040"
            cache_directory = "videos/1920x1040/cache_2"
            resolution = [384, 208]
            batch_size = 1
            num_repeats = 1
            frame_extraction = "uniform"
            target_frames = [45]
            frame_sample = 2
            """;

    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    private DatasetConfig toml(String text) throws IOException {
        return DatasetConfigReader.read(write("dataset.toml", text));
    }

    @Test
    void readsTheReferenceConfigUnchanged() throws IOException {
        DatasetConfig config = toml(REFERENCE);
        assertThat(config.datasets()).hasSize(3);
        assertThat(config.warnings()).isEmpty();

        var images = (ImageDatasetConfig) config.datasets().get(0);
        assertThat(images.index()).isZero();
        assertThat(images.directory()).isEqualTo(dir.resolve("images/768x768"));
        assertThat(images.cacheDirectory()).isEqualTo(dir.resolve("images/768x768/cache"));
        assertThat(images.params()).isEqualTo(new DatasetParams(new Size(768, 768), ".txt", 1, 1, true, true));

        var head = (VideoDatasetConfig) config.datasets().get(1);
        assertThat(head.params()).isEqualTo(new DatasetParams(new Size(768, 416), ".txt", 1, 1, true, true));
        assertThat(head.frames()).isEqualTo(new FrameSettings(List.of(1, 21), FrameExtraction.HEAD, 1, 1, 129, null));

        var uniform = (VideoDatasetConfig) config.datasets().get(2);
        assertThat(uniform.directory()).isEqualTo(head.directory());
        assertThat(uniform.params().resolution()).isEqualTo(new Size(384, 208));
        assertThat(uniform.frames()).isEqualTo(new FrameSettings(List.of(45), FrameExtraction.UNIFORM, 1, 2, 129, null));
    }

    @Test
    void defaultsAndGeneralFallbacks() throws IOException {
        DatasetConfig config = toml("""
                [general]
                resolution = 512
                batch_size = 4
                bucket_no_upscale = true

                [[datasets]]
                image_directory = "a"

                [[datasets]]
                video_directory = "b"
                batch_size = 2
                enable_bucket = true
                """);
        var a = config.datasets().get(0);
        // no enable_bucket: bucket_no_upscale is forced off
        assertThat(a.params()).isEqualTo(new DatasetParams(new Size(512, 512), null, 4, 1, false, false));
        assertThat(a.cacheDirectory()).isEqualTo(dir.resolve("a"));
        var b = (VideoDatasetConfig) config.datasets().get(1);
        assertThat(b.params()).isEqualTo(new DatasetParams(new Size(512, 512), null, 2, 1, true, true));
        assertThat(b.frames()).isEqualTo(FrameSettings.defaults());

        var bare = toml("[[datasets]]\nimage_directory = \"x\"\n").datasets().getFirst();
        assertThat(bare.params()).isEqualTo(new DatasetParams(new Size(960, 544), null, 1, 1, false, false));
    }

    @Test
    void jsonWithTheSameStructureReadsTheSame() throws IOException {
        String json = """
                {"general": {"caption_extension": ".txt", "enable_bucket": true, "bucket_no_upscale": true},
                 "datasets": [
                   {"image_directory": "images/768x768", "cache_directory": "images/768x768/cache",
                    "resolution": [768, 768], "batch_size": 1, "num_repeats": 1},
                   {"video_directory": "videos/1920x1040", "cache_directory": "videos/1920x1040/cache_1",
                    "resolution": [768, 416], "batch_size": 1, "num_repeats": 1,
                    "frame_extraction": "head", "target_frames": [1, 21]},
                   {"video_directory": "videos/1920x1040", "cache_directory": "videos/1920x1040/cache_2",
                    "resolution": [384, 208], "batch_size": 1, "num_repeats": 1,
                    "frame_extraction": "uniform", "target_frames": [45], "frame_sample": 2}]}
                """;
        DatasetConfig fromJson = DatasetConfigReader.read(write("dataset.json", json));
        assertThat(fromJson.datasets()).isEqualTo(toml(REFERENCE).datasets());
    }

    @Test
    void videoOptionsAndAdjustments() throws IOException {
        DatasetConfig config = toml("""
                [[datasets]]
                video_directory = "v"
                target_frames = [48, 24, 21]
                frame_extraction = "uniform"
                frame_sample = 1
                source_fps = 30.0
                max_frames = 64
                """);
        var v = (VideoDatasetConfig) config.datasets().getFirst();
        assertThat(v.frames().targetFrames()).containsExactly(21, 45);
        assertThat(v.frames().extraction()).isEqualTo(FrameExtraction.HEAD); // uniform with frame_sample 1
        assertThat(v.frames().sourceFps()).isEqualTo(30.0);
        assertThat(v.frames().maxFrames()).isEqualTo(64);
        assertThat(config.warnings()).hasSize(2);
        assertThat(config.warnings().getFirst()).contains("datasets[0]", "rounded down", "[21, 45]");
    }

    @Test
    void acceptsFramePackAndControlKeysOnImageDatasets() throws IOException {
        var d = toml("""
                [[datasets]]
                image_directory = "i"
                control_directory = "c"
                fp_latent_window_size = 9
                fp_1f_clean_indices = [0, 1]
                fp_1f_target_index = 9
                fp_1f_no_post = false
                multiple_target = false
                flux_kontext_no_resize_control = true
                control_resolution = [512, 512]
                """).datasets().getFirst();
        assertThat(d).isInstanceOf(ImageDatasetConfig.class);
    }

    private void assertError(String text, Integer index, String key, String... fragments) throws IOException {
        Path file = write("bad.toml", text);
        assertThatThrownBy(() -> DatasetConfigReader.read(file))
                .isInstanceOfSatisfying(DatasetConfigException.class, e -> {
                    assertThat(e.file()).isEqualTo(file);
                    assertThat(e.datasetIndex()).isEqualTo(index);
                    assertThat(e.key()).isEqualTo(key);
                    assertThat(e.getMessage()).contains(file.toString());
                    if (index != null) assertThat(e.getMessage()).contains("datasets[" + index + "]");
                    if (key != null) assertThat(e.getMessage()).contains("'" + key + "'");
                    assertThat(e.getMessage()).contains(fragments);
                });
    }

    @Test
    void unknownKeysAreRejected() throws IOException {
        assertError("[[datasets]]\nimage_directory = \"i\"\n[[datasets]]\nvideo_directory = \"v\"\nframe_rate = 16\n",
                1, "frame_rate", "unknown key");
        assertError("[general]\ncaption_extension = \".txt\"\ntarget_frames = [1]\n[[datasets]]\nimage_directory = \"i\"\n",
                null, "target_frames", "unknown key in [general]");
        assertError("[general]\ncache_directory = \"c\"\n[[datasets]]\nimage_directory = \"i\"\n",
                null, "cache_directory", "per dataset");
        assertError("extra = 1\n[[datasets]]\nimage_directory = \"i\"\n", null, null, "unknown top-level key 'extra'");
        // an image dataset with video keys (mixing is invalid)
        assertError("[[datasets]]\nimage_directory = \"i\"\ntarget_frames = [1]\n", 0, "target_frames", "video datasets");
        // a video dataset with image keys
        assertError("[[datasets]]\nvideo_directory = \"v\"\nimage_directory = \"i\"\n", 0, "image_directory", "image datasets");
    }

    @Test
    void typesAreStrict() throws IOException {
        assertError("[[datasets]]\nimage_directory = \"i\"\nbatch_size = 1.0\n", 0, "batch_size", "expected an integer", "float");
        assertError("[[datasets]]\nvideo_directory = \"v\"\nsource_fps = 30\n", 0, "source_fps", "decimal", "30.0");
        assertError("[[datasets]]\nimage_directory = \"i\"\nenable_bucket = \"yes\"\n", 0, "enable_bucket", "true or false");
        assertError("[general]\nnum_repeats = \"2\"\n[[datasets]]\nimage_directory = \"i\"\n", null, "num_repeats", "integer");
        assertError("[[datasets]]\nvideo_directory = \"v\"\ntarget_frames = 21\n", 0, "target_frames", "list of integers");
        assertError("[[datasets]]\nvideo_directory = \"v\"\ntarget_frames = [1, 2.5]\n", 0, "target_frames[1]", "integer");
        assertError("[[datasets]]\nimage_directory = \"i\"\nresolution = [768, 416, 3]\n", 0, "resolution", "[width, height]");
        assertError("[[datasets]]\nimage_directory = 5\n", 0, "image_directory", "string");
        assertError("[[datasets]]\nimage_directory = \"i\"\ncaption_extension = 1\n", 0, "caption_extension", "string");
    }

    @Test
    void invalidValuesAreRejected() throws IOException {
        assertError("[[datasets]]\nvideo_directory = \"v\"\nframe_extraction = \"chain\"\n", 0, "frame_extraction", "chunk");
        assertError("[[datasets]]\nvideo_directory = \"v\"\nframe_extraction = \"HEAD\"\n", 0, "frame_extraction", "unknown mode");
        assertError("[[datasets]]\nvideo_directory = \"v\"\ntarget_frames = [0]\n", 0, "target_frames[0]", "at least 1");
        assertError("[[datasets]]\nvideo_directory = \"v\"\ntarget_frames = []\n", 0, "target_frames", "at least one");
        assertError("[[datasets]]\nimage_directory = \"i\"\nbatch_size = 0\n", 0, "batch_size", "at least 1");
        assertError("[[datasets]]\nvideo_directory = \"v\"\nframe_stride = 0\n", 0, "frame_stride", "at least 1");
        assertError("[[datasets]]\nimage_directory = \"i\"\nresolution = [768, -1]\n", 0, "resolution[1]", "at least 1");
        assertError("[[datasets]]\ncache_directory = \"c\"\n", 0, "image_directory", "missing");
        assertError("[[datasets]]\nvideo_jsonl_file = \"v.jsonl\"\n", 0, "cache_directory", "required");
        assertError("[general]\ncaption_extension = \".txt\"\n", null, "datasets", "at least one [[datasets]]");
        // the reference run's two video datasets read the same folder: they must not share the default cache directory
        assertError("[[datasets]]\nvideo_directory = \"v\"\n[[datasets]]\nvideo_directory = \"v\"\n",
                1, "cache_directory", "datasets[0]", "distinct");
        assertError("[[datasets]]\nimage_directory = \"i\"\nbatch_size = 1\n[[datasets]\n", null, null, "not valid TOML");
    }

    @Test
    void onlyTomlOrJsonFiles() throws IOException {
        Path yaml = write("dataset.yaml", "general: {}\n");
        assertThatThrownBy(() -> DatasetConfigReader.read(yaml))
                .isInstanceOf(DatasetConfigException.class).hasMessageContaining(".toml or .json");
        Path missing = dir.resolve("missing.toml");
        assertThatThrownBy(() -> DatasetConfigReader.read(missing))
                .isInstanceOf(DatasetConfigException.class).hasMessageContaining("missing.toml");
    }
}
