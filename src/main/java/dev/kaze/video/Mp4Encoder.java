package dev.kaze.video;

import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Frame;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes {@link RgbFrames} as an MP4: H.264 (libx264), yuv420p, constant frame rate {@code fps} (time base 1/fps, every
 * frame shown once), {@code movflags +faststart} so playback can start before the whole file has arrived.
 * The file is written next to its target under a temporary name and moved into place when complete, so a reader never
 * sees a half-written video. Frames are converted to YUV one at a time; nothing beyond one frame is copied.
 */
public final class Mp4Encoder {
    static {
        // x264 reports its settings and statistics at info level on stderr; keep warnings and errors only
        avutil.av_log_set_level(avutil.AV_LOG_WARNING);
    }

    private final Mp4Options options;

    public Mp4Encoder(Mp4Options options) {
        this.options = options;
    }

    public Mp4Encoder() {
        this(Mp4Options.DEFAULT);
    }

    public Mp4Options options() {
        return options;
    }

    /** Validates and writes {@code rgb[((t·height + y)·width + x)·3 + c]} to {@code out}. */
    public void write(int frames, int height, int width, int fps, byte[] rgb, Path out) {
        RgbFrames video;
        try {
            video = new RgbFrames(frames, height, width, fps, rgb);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot write " + out + ": " + e.getMessage(), e);
        }
        write(video, out);
    }

    /** Writes {@code video} to {@code out} (replacing it if present); parent directories are created. */
    public void write(RgbFrames video, Path out) {
        if (video.width() % 2 != 0 || video.height() % 2 != 0)
            throw new IllegalArgumentException("cannot write " + out + ": H.264 yuv420p needs an even width and height, got "
                    + video.width() + "x" + video.height() + " (width x height)");
        Path target = out.toAbsolutePath();
        Path tmp;
        try {
            Files.createDirectories(target.getParent());
            tmp = Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".part");
        } catch (IOException e) {
            throw new VideoException(out, "cannot create a temporary file next to it: " + e.getMessage(), e);
        }
        boolean done = false;
        try {
            encode(video, tmp, out);
            moveIntoPlace(tmp, target);
            done = true;
        } catch (IOException e) {
            throw new VideoException(out, "cannot move the finished video into place: " + e.getMessage(), e);
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original error matters more than a leftover .part file
                }
            }
        }
    }

    private void encode(RgbFrames video, Path file, Path out) {
        int w = video.width(), h = video.height(), frameBytes = video.frameBytes();
        FFmpegFrameRecorder recorder = new FFmpegFrameRecorder(file.toFile(), w, h, 0);
        recorder.setFormat("mp4");
        recorder.setVideoCodecName("libx264");
        recorder.setVideoCodec(avcodec.AV_CODEC_ID_H264);
        recorder.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
        recorder.setFrameRate(video.fps());
        recorder.setVideoBitrate(0); // rate control is CRF, not a bitrate target
        recorder.setVideoOption("crf", Integer.toString(options.crf()));
        recorder.setVideoOption("preset", options.preset());
        // the RGB→YUV conversion uses the BT.601 matrix in limited range: say so in the stream
        recorder.setVideoOption("colorspace", "smpte170m");
        recorder.setVideoOption("color_range", "tv");
        recorder.setOption("movflags", "+faststart");
        String stage = "start the H.264 encoder";
        try (BytePointer frame = new BytePointer(frameBytes)) {
            recorder.start();
            ByteBuffer buffer = frame.asByteBuffer();
            byte[] rgb = video.rgb();
            for (int t = 0; t < video.frames(); t++) {
                stage = "encode frame " + t + " of " + video.frames();
                frame.position(0).put(rgb, video.frameOffset(t), frameBytes);
                buffer.clear();
                recorder.recordImage(w, h, Frame.DEPTH_UBYTE, 3, w * 3, avutil.AV_PIX_FMT_RGB24, buffer);
            }
            stage = "finish the MP4 (flush the encoder, write the index)";
            recorder.stop();
        } catch (FFmpegFrameRecorder.Exception e) {
            String hint = e.getMessage() != null && e.getMessage().contains("libx264")
                    ? " (libx264 comes with the org.bytedeco:ffmpeg linux-x86_64-gpl natives; are they on the classpath?)" : "";
            throw new VideoException(out, "cannot " + stage + ": " + e.getMessage() + hint, e);
        } finally {
            try {
                recorder.release();
            } catch (FFmpegFrameRecorder.Exception ignored) {
                // release after a failure; the first error is the one to report
            }
        }
    }

    static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
