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
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The up-front dataset check: every problem listed at once, with dataset index, key and file; short clips warned. */
class TrainingDataCheckTest {
    @TempDir
    Path dir;

    Path images;
    Path videos;

    @BeforeEach
    void media() throws IOException {
        images = Files.createDirectories(dir.resolve("images"));
        videos = Files.createDirectories(dir.resolve("videos"));
    }

    static void png(Path file, int w, int h, int rgb) throws IOException {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) image.setRGB(x, y, rgb ^ (x * 7 + y * 13));
        ImageIO.write(image, "png", file.toFile());
    }

    static void jpg(Path file, int w, int h) throws IOException {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) image.setRGB(x, y, (x * 5) << 16 | (y * 3) << 8 | (x ^ y));
        ImageIO.write(image, "jpg", file.toFile());
    }

    static void clip(Path file, int frames, int w, int h) {
        byte[] rgb = new byte[frames * w * h * 3];
        for (int t = 0; t < frames; t++) Arrays.fill(rgb, t * w * h * 3, (t + 1) * w * h * 3, (byte) (10 + 4 * t));
        new Mp4Encoder().write(new RgbFrames(frames, h, w, 16, rgb), file);
    }

    static void caption(Path media, String text) throws IOException {
        Files.writeString(DatasetMedia.captionFile(media, ".txt"), text);
    }

    /** The first half of the file only. */
    static void truncate(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length / 2));
    }

    private DatasetConfig config(String toml) throws IOException {
        Path file = dir.resolve("dataset.toml");
        Files.writeString(file, toml);
        return DatasetConfigReader.read(file);
    }

    private static final String TWO_DATASETS = """
            [general]
            caption_extension = ".txt"
            resolution = [64, 64]
            [[datasets]]
            image_directory = "images"
            [[datasets]]
            video_directory = "videos"
            target_frames = [1, 9]
            """;

    @Test
    void aCleanDatasetYieldsItsItemsAndWarnsAboutShortClips() throws IOException {
        png(images.resolve("a.png"), 64, 48, 0x102030);
        caption(images.resolve("a.png"), "a");
        clip(videos.resolve("long.mp4"), 12, 32, 32);
        clip(videos.resolve("short.mp4"), 5, 32, 32);
        caption(videos.resolve("long.mp4"), "long");
        caption(videos.resolve("short.mp4"), "short");

        TrainingData.Checked checked = TrainingData.check(config(TWO_DATASETS));

        assertThat(checked.datasets()).hasSize(2);
        assertThat(checked.itemCount()).isEqualTo(1 + 2 + 1);
        assertThat(checked.datasets().get(1).items()).extracting(i -> i.stem() + "/" + i.frames())
                .containsExactly("long/1", "long/9", "short/1");
        assertThat(checked.warnings()).singleElement().asString()
                .contains("datasets[1]", "short.mp4", "5 frames", "[9]");
    }

    @Test
    void everyProblemIsListedWithDatasetKeyAndFile() throws IOException {
        png(images.resolve("good.png"), 32, 32, 0x405060);
        caption(images.resolve("good.png"), "good");
        png(images.resolve("nocap.png"), 32, 32, 0x405060);               // no caption: an error here, not a skip
        png(images.resolve("cut.png"), 64, 64, 0x123456);
        truncate(images.resolve("cut.png"));                               // truncated PNG
        caption(images.resolve("cut.png"), "cut");
        jpg(images.resolve("cutj.jpg"), 64, 64);
        truncate(images.resolve("cutj.jpg"));                              // truncated JPEG: ImageIO only warns
        caption(images.resolve("cutj.jpg"), "cut jpeg");
        Files.write(images.resolve("garbage.png"), new byte[]{1, 2, 3, 4, 5, 6, 7, 8, 9});
        caption(images.resolve("garbage.png"), "garbage");
        clip(videos.resolve("ok.mp4"), 9, 32, 32);
        caption(videos.resolve("ok.mp4"), "ok");
        clip(videos.resolve("cut.mp4"), 9, 32, 32);
        truncate(videos.resolve("cut.mp4"));
        caption(videos.resolve("cut.mp4"), "cut video");
        clip(videos.resolve("nocap.mp4"), 9, 32, 32);

        DatasetCheckException e = catchThrowableOfType(DatasetCheckException.class, () -> TrainingData.check(config(TWO_DATASETS)));

        assertThat(e).isNotNull();
        assertThat(e.config()).isEqualTo(dir.resolve("dataset.toml"));
        assertThat(e.problems()).extracting(p -> p.dataset() + " " + p.key() + " " + p.file().getFileName())
                .containsExactlyInAnyOrder(
                        "0 image_directory nocap.png", "0 image_directory cut.png", "0 image_directory cutj.jpg",
                        "0 image_directory garbage.png", "1 video_directory cut.mp4", "1 video_directory nocap.mp4");
        DatasetProblem nocap = e.problems().stream().filter(p -> p.file().endsWith("nocap.png")).findFirst().orElseThrow();
        assertThat(nocap.message()).contains("no caption file", images.resolve("nocap.txt").toString());
        assertThat(nocap.pointer()).isEqualTo("datasets[0].image_directory");
        assertThat(e.getMessage()).contains("6 problems", "nocap.mp4", "expected " + videos.resolve("nocap.txt"));
    }

    @Test
    void aDatasetWithoutItemsIsAProblemEvenWhenAnotherHasSome() throws IOException {
        png(images.resolve("a.png"), 32, 32, 0);
        caption(images.resolve("a.png"), "a");
        clip(videos.resolve("tiny.mp4"), 5, 32, 32);
        caption(videos.resolve("tiny.mp4"), "tiny");
        DatasetConfig config = config("""
                [general]
                caption_extension = ".txt"
                [[datasets]]
                image_directory = "images"
                [[datasets]]
                video_directory = "videos"
                target_frames = [9]
                [[datasets]]
                image_directory = "empty"
                cache_directory = "cache2"
                """);
        Files.createDirectories(dir.resolve("empty"));

        DatasetCheckException e = catchThrowableOfType(DatasetCheckException.class, () -> TrainingData.check(config));

        assertThat(e.problems()).extracting(DatasetProblem::pointer).containsExactly("datasets[1].video_directory",
                "datasets[2].image_directory");
        assertThat(e.problems().get(0).message()).contains("no training item", "tiny.mp4", "5 frames");
        assertThat(e.problems().get(1).message()).contains("no images");
    }

    @Test
    void missingDirectoryAndCaptionExtensionAreProblems() throws IOException {
        DatasetConfig config = config("""
                [[datasets]]
                image_directory = "nowhere"
                [[datasets]]
                video_directory = "videos"
                """);
        DatasetCheckException e = catchThrowableOfType(DatasetCheckException.class, () -> TrainingData.check(config));
        assertThat(e.problems()).extracting(DatasetProblem::pointer)
                .containsExactly("datasets[0].image_directory", "datasets[1].caption_extension");
        assertThat(e.problems().get(0).message()).contains("does not exist");
    }

    @Test
    void sameStemTwiceIsACacheCollision() throws IOException {
        clip(videos.resolve("a.mp4"), 5, 32, 32);
        clip(videos.resolve("a.mkv"), 5, 32, 32);
        caption(videos.resolve("a.mp4"), "a");   // a.txt serves both
        DatasetConfig config = config("""
                [general]
                caption_extension = ".txt"
                [[datasets]]
                video_directory = "videos"
                """);
        assertThatThrownBy(() -> TrainingData.check(config)).isInstanceOf(DatasetCheckException.class)
                .hasMessageContaining("same name stem").hasMessageContaining("a_wan_te.safetensors");
    }

    @Test
    void jsonlMediaThatDoNotExistAreProblems() throws IOException {
        png(images.resolve("a.png"), 32, 32, 0);
        Files.writeString(dir.resolve("list.jsonl"), """
                {"image_path": "images/a.png", "caption": "a"}
                {"image_path": "images/missing.png", "caption": "b"}
                """);
        DatasetConfig config = config("""
                [[datasets]]
                image_jsonl_file = "list.jsonl"
                cache_directory = "cache"
                """);
        DatasetCheckException e = catchThrowableOfType(DatasetCheckException.class, () -> TrainingData.check(config));
        assertThat(e.problems()).singleElement().satisfies(p -> {
            assertThat(p.pointer()).isEqualTo("datasets[0].image_jsonl_file");
            assertThat(p.file()).isEqualTo(images.resolve("missing.png"));
        });
        assertThat(List.of(e.getMessage())).allMatch(m -> m.contains("no such image file"));
    }
}
