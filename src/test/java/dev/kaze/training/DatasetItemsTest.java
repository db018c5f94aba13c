package dev.kaze.training;

import dev.kaze.video.Mp4Encoder;
import dev.kaze.video.RgbFrames;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Datasets of small generated images and H.264 clips: listing, captions, windows, buckets, repeats, batches, errors. */
class DatasetItemsTest {
    @TempDir
    Path dir;

    Path images;
    Path videos;

    @BeforeEach
    void media() throws IOException {
        images = Files.createDirectories(dir.resolve("images"));
        videos = Files.createDirectories(dir.resolve("videos"));
    }

    private static void png(Path file, int w, int h, int rgb) throws IOException {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) image.setRGB(x, y, rgb);
        ImageIO.write(image, "png", file.toFile());
    }

    /** A clip whose frame t is a flat grey of level 10 + 4t, so a decoded frame tells its index. */
    private static void clip(Path file, int frames, int w, int h) {
        byte[] rgb = new byte[frames * w * h * 3];
        for (int t = 0; t < frames; t++)
            java.util.Arrays.fill(rgb, t * w * h * 3, (t + 1) * w * h * 3, (byte) (10 + 4 * t));
        new Mp4Encoder().write(new RgbFrames(frames, h, w, 16, rgb), file);
    }

    private static void caption(Path media, String text) throws IOException {
        Files.writeString(DatasetMedia.captionFile(media, ".txt"), text);
    }

    private DatasetConfig config(String toml) throws IOException {
        Path file = dir.resolve("dataset.toml");
        Files.writeString(file, toml);
        return DatasetConfigReader.read(file);
    }

    @Test
    void imageDatasetBucketsRepeatsAndBatches() throws IOException {
        png(images.resolve("a.png"), 64, 64, 0xff0000);
        png(images.resolve("b.png"), 96, 54, 0x00ff00);
        png(images.resolve("c.jpg"), 64, 64, 0x0000ff);
        png(images.resolve("d.png"), 64, 64, 0x808080); // no caption: skipped and reported
        Files.writeString(images.resolve("notes.md"), "not media");
        caption(images.resolve("a.png"), "  Studio Ghibli style. A red square.\n");
        caption(images.resolve("b.png"), "Studio Ghibli style. Green.");
        caption(images.resolve("c.jpg"), "Studio Ghibli style. Blue.");
        DatasetConfig config = config("""
                [general]
                caption_extension = ".txt"
                enable_bucket = true
                bucket_no_upscale = true
                [[datasets]]
                image_directory = "images"
                resolution = [64, 64]
                num_repeats = 2
                batch_size = 3
                """);
        DatasetItems items = DatasetItems.build(config.datasets().getFirst(), false);
        assertThat(items.items()).extracting(i -> i.media().getFileName().toString()).containsExactly("a.png", "b.png", "c.jpg");
        assertThat(items.items().getFirst().caption()).isEqualTo("Studio Ghibli style. A red square.");
        assertThat(items.notes()).singleElement().asString().contains("d.png", "no caption");
        // 64x64 fits the area: own size; 96x54 is larger than 64² → nearest ratio bucket of [64,64]
        assertThat(items.items().get(0).bucket()).isEqualTo(new Size(64, 64));
        Size wide = items.items().get(1).bucket();
        assertThat(wide.width()).isGreaterThan(wide.height());
        assertThat(items.items().get(0).latentCacheName()).isEqualTo("a_0064x0064_wan.safetensors");

        List<BucketBatches.Batch> batches = BucketBatches.of(items);
        // bucket 64x64: a, a, c, c → batches of 3 and 1; the wide bucket: b, b → one batch of 2
        assertThat(batches).hasSize(3);
        var square = batches.stream().filter(b -> b.key().bucket().equals(new Size(64, 64))).toList();
        assertThat(square).extracting(b -> b.items().size()).containsExactly(3, 1);
        assertThat(square.getFirst().items()).extracting(i -> i.media().getFileName().toString())
                .containsExactly("a.png", "a.png", "c.jpg");
        assertThat(batches.stream().filter(b -> b.key().bucket().equals(wide)).findFirst().orElseThrow().items()).hasSize(2);

        RgbImage pixels = DatasetItems.pixels(items.items().get(1)).getFirst();
        assertThat(pixels.size()).isEqualTo(wide);
        assertThat(pixels.rgb()[1] & 0xff).isGreaterThan(240);
    }

    @Test
    void videoWindowsShortClipsAndFrames() throws IOException {
        clip(videos.resolve("long.mp4"), 50, 96, 54);
        clip(videos.resolve("short.mp4"), 30, 96, 54);
        caption(videos.resolve("long.mp4"), "Studio Ghibli style. Long.");
        caption(videos.resolve("short.mp4"), "Studio Ghibli style. Short.");
        DatasetConfig config = config("""
                [general]
                caption_extension = ".txt"
                enable_bucket = true
                bucket_no_upscale = true
                [[datasets]]
                video_directory = "videos"
                cache_directory = "videos/cache_1"
                resolution = [64, 32]
                frame_extraction = "head"
                target_frames = [1, 21]
                [[datasets]]
                video_directory = "videos"
                cache_directory = "videos/cache_2"
                resolution = [64, 32]
                frame_extraction = "uniform"
                target_frames = [45]
                frame_sample = 2
                """);
        VideoClip.Info info = VideoClip.probe(videos.resolve("long.mp4"));
        assertThat(info.frameCount()).isEqualTo(50);
        assertThat(info.fps()).isEqualTo(16.0);
        assertThat(info.size()).isEqualTo(new Size(96, 54));

        DatasetItems head = DatasetItems.build(config.datasets().get(0), false);
        assertThat(head.items()).extracting(i -> i.media().getFileName() + "@" + i.start() + "+" + i.frames())
                .containsExactly("long.mp4@0+1", "long.mp4@0+21", "short.mp4@0+1", "short.mp4@0+21");
        assertThat(head.notes()).isEmpty();

        DatasetItems uniform = DatasetItems.build(config.datasets().get(1), false);
        // linspace(0, 50 - 45, 2) = [0, 5]; the 30-frame clip is too short for 45 and is reported
        assertThat(uniform.items()).extracting(i -> i.media().getFileName() + "@" + i.start() + "+" + i.frames())
                .containsExactly("long.mp4@0+45", "long.mp4@5+45");
        assertThat(uniform.notes()).singleElement().asString().contains("short.mp4", "30 frames", "[45]");
        TrainingItem second = uniform.items().get(1);
        assertThat(second.latentCacheName()).isEqualTo("long_00005-045_0096x0054_wan.safetensors");
        assertThat(second.textCacheName()).isEqualTo("long_wan_te.safetensors");
        // 96x54 is above the 64x32 area: the nearest-ratio bucket, with or without the legacy quirk
        assertThat(second.bucket()).isEqualTo(second.trainingBucket());

        List<RgbImage> frames = DatasetItems.pixels(second);
        assertThat(frames).hasSize(45);
        assertThat(frames).allSatisfy(f -> assertThat(f.size()).isEqualTo(second.bucket()));
        // frame k of the window is source frame 5 + k, a grey of 10 + 4·(5 + k) (H.264 keeps flat greys within a few levels)
        for (int k : new int[]{0, 20, 44}) {
            int grey = frames.get(k).rgb()[(frames.get(k).width() * 8 + 8) * 3 + 1] & 0xff;
            assertThat(grey).as("frame %d", k).isBetween(10 + 4 * (5 + k) - 6, 10 + 4 * (5 + k) + 6);
        }
    }

    @Test
    void videoBucketQuirkIgnoresNoUpscaleUnlessAsked() throws IOException {
        clip(videos.resolve("small.mp4"), 5, 48, 32);
        caption(videos.resolve("small.mp4"), "x");
        DatasetConfig config = config("""
                [general]
                caption_extension = ".txt"
                enable_bucket = true
                bucket_no_upscale = true
                [[datasets]]
                video_directory = "videos"
                resolution = [64, 64]
                """);
        TrainingItem legacy = DatasetItems.build(config.datasets().getFirst(), false).items().getFirst();
        assertThat(legacy.trainingBucket()).isEqualTo(new Size(48, 32)); // the key uses no_upscale
        assertThat(legacy.bucket().area()).isGreaterThan(48L * 32);      // the pixels are upscaled anyway
        TrainingItem honoured = DatasetItems.build(config.datasets().getFirst(), true).items().getFirst();
        assertThat(honoured.bucket()).isEqualTo(new Size(48, 32));
    }

    @Test
    void missingVideoCaptionIsAnErrorNamingTheFile() throws IOException {
        clip(videos.resolve("nocap.mp4"), 5, 32, 32);
        DatasetConfig config = config("[general]\ncaption_extension = \".txt\"\n[[datasets]]\nvideo_directory = \"videos\"\n");
        assertThatThrownBy(() -> DatasetItems.build(config.datasets().getFirst(), false))
                .isInstanceOfSatisfying(DatasetMediaException.class, e -> {
                    assertThat(e.file()).isEqualTo(videos.resolve("nocap.mp4"));
                    assertThat(e.getMessage()).contains("nocap.txt", "missing caption");
                });
    }

    @Test
    void noCaptionExtensionIsAnError() throws IOException {
        png(images.resolve("a.png"), 16, 16, 0);
        DatasetConfig config = config("[[datasets]]\nimage_directory = \"images\"\n");
        assertThatThrownBy(() -> DatasetItems.build(config.datasets().getFirst(), false))
                .isInstanceOf(DatasetMediaException.class).hasMessageContaining("caption_extension");
    }

    @Test
    void unreadableMediaAreErrorsNamingTheFile() throws IOException {
        Files.writeString(images.resolve("broken.png"), "this is not a PNG");
        caption(images.resolve("broken.png"), "x");
        DatasetConfig imageConfig = config("[general]\ncaption_extension = \".txt\"\n[[datasets]]\nimage_directory = \"images\"\n");
        assertThatThrownBy(() -> DatasetItems.build(imageConfig.datasets().getFirst(), false))
                .isInstanceOfSatisfying(DatasetMediaException.class, e -> {
                    assertThat(e.file()).isEqualTo(images.resolve("broken.png"));
                    assertThat(e.getMessage()).contains("broken.png", "unreadable image");
                });

        Files.write(videos.resolve("broken.mp4"), new byte[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
        caption(videos.resolve("broken.mp4"), "x");
        DatasetConfig videoConfig = config("[general]\ncaption_extension = \".txt\"\n[[datasets]]\nvideo_directory = \"videos\"\n");
        assertThatThrownBy(() -> DatasetItems.build(videoConfig.datasets().getFirst(), false))
                .isInstanceOfSatisfying(DatasetMediaException.class, e -> {
                    assertThat(e.file()).isEqualTo(videos.resolve("broken.mp4"));
                    assertThat(e.getMessage()).contains("broken.mp4", "unreadable");
                });
    }

    @Test
    void jsonlDatasets() throws IOException {
        png(images.resolve("a.png"), 32, 32, 0xffffff);
        Files.writeString(dir.resolve("images.jsonl"), "{\"image_path\": \"images/a.png\", \"caption\": \"A white square.\"}\n\n");
        Files.writeString(dir.resolve("bad.jsonl"), "{\"image_path\": \"images/a.png\"}\n");
        DatasetConfig config = config("""
                [[datasets]]
                image_jsonl_file = "images.jsonl"
                cache_directory = "cache_a"
                [[datasets]]
                image_jsonl_file = "bad.jsonl"
                cache_directory = "cache_b"
                """);
        DatasetItems items = DatasetItems.build(config.datasets().get(0), false);
        assertThat(items.items()).singleElement().satisfies(i -> {
            assertThat(i.media()).isEqualTo(images.resolve("a.png"));
            assertThat(i.caption()).isEqualTo("A white square.");
        });
        assertThatThrownBy(() -> DatasetItems.build(config.datasets().get(1), false))
                .isInstanceOf(DatasetMediaException.class).hasMessageContaining("bad.jsonl", "line 1", "caption");
    }

    @Test
    void noItemsAtAllIsAnError() throws IOException {
        clip(videos.resolve("tiny.mp4"), 5, 32, 32);
        caption(videos.resolve("tiny.mp4"), "x");
        DatasetConfig config = config("""
                [general]
                caption_extension = ".txt"
                [[datasets]]
                video_directory = "videos"
                target_frames = [21]
                """);
        assertThatThrownBy(() -> DatasetItems.buildAll(config, false))
                .isInstanceOf(DatasetMediaException.class)
                .hasMessageContaining("dataset.toml", "no training items", "tiny.mp4", "too short");
    }
}
