package dev.kaze.video;

import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class Mp4EncoderTest {
    /** Fast enough for tests; the production default is medium. */
    static final Mp4Encoder ENCODER = new Mp4Encoder(new Mp4Options(18, "veryfast"));

    @TempDir
    Path dir;

    @Test
    void nineFrameClipIsH264Yuv420pAtExactly16Fps() throws Exception {
        RgbFrames clip = TestClips.movingGradient(9, 48, 64, 16);
        Path out = dir.resolve("small.mp4");
        ENCODER.write(clip, out);

        VideoInfo info = VideoProbe.probe(out);
        assertThat(info.codec()).isEqualTo("h264");
        assertThat(info.pixFmt()).isEqualTo("yuv420p");
        assertThat(info.width()).isEqualTo(64);
        assertThat(info.height()).isEqualTo(48);
        assertThat(info.fps()).isEqualTo(new VideoInfo.FrameRate(16, 1));
        assertThat(info.frameCount()).isEqualTo(9);
        assertThat(info.durationSeconds()).isCloseTo(9 / 16.0, within(1e-3));
        assertThat(VideoProbe.probe(out, false).frameCount()).as("nb_frames in the container").isEqualTo(9);
        assertFastStart(out);
        assertDecodesBackTo(clip, out);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("no temporary files left").containsExactly("small.mp4");
        }
    }

    @Test
    void eightyOneFramesAt640x480() throws Exception {
        RgbFrames clip = TestClips.movingGradient(81, 480, 640, 16);
        Path out = dir.resolve("sub/dir/clip.mp4");
        ENCODER.write(clip.frames(), clip.height(), clip.width(), clip.fps(), clip.rgb(), out);

        VideoInfo info = VideoProbe.probe(out);
        assertThat(info.codec()).isEqualTo("h264");
        assertThat(info.pixFmt()).isEqualTo("yuv420p");
        assertThat(info.width()).isEqualTo(640);
        assertThat(info.height()).isEqualTo(480);
        assertThat(info.fps().toString()).isEqualTo("16/1");
        assertThat(info.frameCount()).isEqualTo(81);
        assertThat(info.durationSeconds()).isCloseTo(81 / 16.0, within(1e-3));
        assertFastStart(out);
        assertDecodesBackTo(clip, out);
    }

    @Test
    void otherFrameRatesAreExactToo() {
        Path out = dir.resolve("24.mp4");
        ENCODER.write(TestClips.movingGradient(5, 32, 32, 24), out);
        VideoInfo info = VideoProbe.probe(out);
        assertThat(info.fps()).isEqualTo(new VideoInfo.FrameRate(24, 1));
        assertThat(info.frameCount()).isEqualTo(5);
    }

    @Test
    void replacesAnExistingFile() throws Exception {
        Path out = dir.resolve("again.mp4");
        Files.writeString(out, "not a video");
        ENCODER.write(TestClips.movingGradient(3, 16, 16, 16), out);
        assertThat(VideoProbe.probe(out).frameCount()).isEqualTo(3);
    }

    @Test
    void badInputIsRejectedWithClearMessages() {
        Path out = dir.resolve("bad.mp4");
        assertThatThrownBy(() -> ENCODER.write(TestClips.movingGradient(2, 48, 65, 16), out))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad.mp4").hasMessageContaining("even").hasMessageContaining("65x48");
        assertThatThrownBy(() -> ENCODER.write(TestClips.movingGradient(2, 47, 64, 16), out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even");
        assertThatThrownBy(() -> ENCODER.write(2, 48, 64, 16, new byte[2 * 48 * 64 * 3 - 1], out))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad.mp4").hasMessageContaining(String.valueOf(2 * 48 * 64 * 3 - 1))
                .hasMessageContaining(String.valueOf(2 * 48 * 64 * 3));
        assertThatThrownBy(() -> ENCODER.write(0, 48, 64, 16, new byte[0], out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad.mp4").hasMessageContaining("at least one frame");
        assertThatThrownBy(() -> ENCODER.write(1, 48, 64, 0, new byte[48 * 64 * 3], out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad.mp4").hasMessageContaining("fps");
        assertThatThrownBy(() -> ENCODER.write(1, 48, 64, 16, null, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null");
        assertThat(out).doesNotExist();
    }

    @Test
    void unwritableTargetNamesTheFile() throws Exception {
        Path blocker = dir.resolve("blocker");
        Files.writeString(blocker, "a file, not a directory");
        Path out = blocker.resolve("clip.mp4");
        assertThatThrownBy(() -> ENCODER.write(TestClips.movingGradient(1, 16, 16, 16), out))
                .isInstanceOf(VideoException.class).hasMessageContaining(out.toString());
    }

    @Test
    void optionsAreValidated() {
        assertThat(Mp4Options.DEFAULT).isEqualTo(new Mp4Options(18, "medium"));
        assertThatThrownBy(() -> new Mp4Options(52, "medium")).hasMessageContaining("crf");
        assertThatThrownBy(() -> new Mp4Options(18, "turbo")).hasMessageContaining("veryfast").hasMessageContaining("turbo");
    }

    /** {@code +faststart}: the index (moov) precedes the media data (mdat). */
    static void assertFastStart(Path file) throws Exception {
        List<String> boxes = TestClips.topLevelBoxes(file);
        assertThat(boxes).first().isEqualTo("ftyp");
        assertThat(boxes).contains("moov", "mdat");
        assertThat(boxes.indexOf("moov")).as("moov before mdat in " + boxes).isLessThan(boxes.indexOf("mdat"));
    }

    /** Decodes with FFmpegFrameGrabber: the first frame's mean colour within 2 levels; each frame within 4 levels per pixel. */
    static void assertDecodesBackTo(RgbFrames clip, Path file) throws Exception {
        try (FFmpegFrameGrabber grabber = new FFmpegFrameGrabber(file.toFile())) {
            grabber.setPixelFormat(avutil.AV_PIX_FMT_RGB24);
            grabber.start();
            assertThat(grabber.getImageWidth()).isEqualTo(clip.width());
            assertThat(grabber.getImageHeight()).isEqualTo(clip.height());
            int t = 0;
            Frame frame;
            while ((frame = grabber.grabImage()) != null) {
                assertThat(t).as("more frames decoded than encoded").isLessThan(clip.frames());
                byte[] decoded = packed(frame, clip.width(), clip.height());
                RgbFrames one = new RgbFrames(1, clip.height(), clip.width(), clip.fps(), decoded);
                if (t == 0) {
                    double[] expected = TestClips.meanColour(clip, 0), actual = TestClips.meanColour(one, 0);
                    for (int c = 0; c < 3; c++)
                        assertThat(actual[c]).as("mean of channel " + c + " in frame 0").isCloseTo(expected[c], within(2.0));
                }
                double absDiff = 0;
                int off = clip.frameOffset(t);
                for (int i = 0; i < decoded.length; i++) absDiff += Math.abs((decoded[i] & 0xff) - (clip.rgb()[off + i] & 0xff));
                assertThat(absDiff / decoded.length).as("mean absolute error of frame " + t).isLessThan(4.0);
                t++;
            }
            assertThat(t).as("decoded frames").isEqualTo(clip.frames());
            grabber.stop();
        }
    }

    static byte[] packed(Frame frame, int width, int height) {
        assertThat(frame.imageChannels).isEqualTo(3);
        ByteBuffer buf = (ByteBuffer) frame.image[0];
        byte[] out = new byte[width * height * 3];
        for (int y = 0; y < height; y++) buf.get(y * frame.imageStride, out, y * width * 3, width * 3);
        return out;
    }
}
