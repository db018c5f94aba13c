package dev.kaze.training;

import dev.kaze.video.Mp4Encoder;
import dev.kaze.video.RgbFrames;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A tiny musubi-style dataset for the tests: two 32×32 images and a 9-frame clip with captions. */
public final class TestDatasets {
    /** Its dataset config: one image and one video dataset at 32×32, relative directories, caches inside. */
    public static final String TOML = """
            [general]
            resolution = [32, 32]
            caption_extension = ".txt"
            batch_size = 1
            enable_bucket = false

            [[datasets]]
            image_directory = "images"
            cache_directory = "cache/images"

            [[datasets]]
            video_directory = "videos"
            cache_directory = "cache/videos"
            target_frames = [9]
            frame_extraction = "head"
            """;


    private TestDatasets() {}

    /** Two 32×32 images and one 9-frame clip with captions, and dataset.toml when asked. */
    public static void write(Path dir, boolean withToml) throws IOException {
        Path images = Files.createDirectories(dir.resolve("images")), videos = Files.createDirectories(dir.resolve("videos"));
        image(images.resolve("square.png"), 0);
        image(images.resolve("stripes.png"), 1);
        Files.writeString(images.resolve("square.txt"), "a yellow square on a dark field");
        Files.writeString(images.resolve("stripes.txt"), "green and blue stripes");
        byte[] rgb = new byte[9 * 32 * 32 * 3];
        for (int f = 0; f < 9; f++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    int i = ((f * 32 + y) * 32 + x) * 3;
                    boolean in = x >= 2 + 2 * f && x < 14 + 2 * f && y >= 10 && y < 22;
                    rgb[i] = (byte) (in ? 240 : 20);
                    rgb[i + 1] = (byte) (in ? 200 : 30);
                    rgb[i + 2] = 40;
                }
        new Mp4Encoder().write(new RgbFrames(9, 32, 32, 16, rgb), videos.resolve("slide.mp4"));
        Files.writeString(videos.resolve("slide.txt"), "a square slides to the right");
        if (withToml) Files.writeString(dir.resolve("dataset.toml"), TOML);
    }

    public static void image(Path file, int kind) throws IOException {
        BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                img.setRGB(x, y, kind == 0 ? (x > 8 && x < 24 && y > 8 && y < 24 ? 0xf0d020 : 0x101820)
                        : (((y / 4) % 2 == 0) ? 0x20d060 : 0x2040c0));
        ImageIO.write(img, "png", file.toFile());
    }

}
