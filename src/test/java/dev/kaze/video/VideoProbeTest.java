package dev.kaze.video;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Probes a clip made by the bundled ffmpeg command-line tool, independently of {@link Mp4Encoder}. */
class VideoProbeTest {
    @TempDir
    static Path dir;
    static Path clip;

    @BeforeAll
    static void makeClipWithTheFfmpegTool() throws Exception {
        clip = dir.resolve("testsrc.mp4");
        Process p = FfmpegTools.FFMPEG.process(List.of("-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                "-frames:v", "20", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", clip.toString()))
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(log).isZero();
    }

    @Test
    void readsCodecSizeRateFramesAndDuration() {
        VideoInfo info = VideoProbe.probe(clip);
        assertThat(info.codec()).isEqualTo("h264");
        assertThat(info.pixFmt()).isEqualTo("yuv420p");
        assertThat(info.width()).isEqualTo(320);
        assertThat(info.height()).isEqualTo(240);
        assertThat(info.fps()).isEqualTo(new VideoInfo.FrameRate(25, 1));
        assertThat(info.fps().value()).isEqualTo(25.0);
        assertThat(info.frameCount()).isEqualTo(20);
        assertThat(info.durationSeconds()).isCloseTo(0.8, within(1e-3));
        assertThat(VideoProbe.probe(clip, false).frameCount()).isEqualTo(20);
    }

    @Test
    void missingOrUnreadableFilesNameTheFile() throws Exception {
        Path missing = dir.resolve("missing.mp4");
        assertThatThrownBy(() -> VideoProbe.probe(missing)).isInstanceOf(VideoException.class).hasMessageContaining("missing.mp4");
        Path text = dir.resolve("notes.mp4");
        Files.writeString(text, "this is not a video");
        assertThatThrownBy(() -> VideoProbe.probe(text)).isInstanceOf(VideoException.class)
                .hasMessageContaining("notes.mp4").hasMessageContaining("ffprobe");
    }

    @Test
    void frameRatesParse() {
        assertThat(VideoInfo.FrameRate.parse("30000/1001").value()).isCloseTo(29.97, within(1e-2));
        assertThat(VideoInfo.FrameRate.parse("16")).isEqualTo(new VideoInfo.FrameRate(16, 1));
        assertThatThrownBy(() -> VideoInfo.FrameRate.parse("x/y")).hasMessageContaining("x/y");
        assertThatThrownBy(() -> VideoInfo.FrameRate.parse("16/0")).hasMessageContaining("denominator");
    }
}
