package dev.kaze.video;

import dev.kaze.json.Json;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs the {@code ffprobe} executable that ships in the org.bytedeco:ffmpeg natives jar ({@link FfmpegTools#FFPROBE})
 * on a video file and reads its first video stream.
 */
public final class VideoProbe {
    static final long TIMEOUT_SECONDS = 120;

    private VideoProbe() {
    }

    /** Probes {@code file}, decoding the video stream to count its frames exactly. */
    public static VideoInfo probe(Path file) {
        return probe(file, true);
    }

    /**
     * Probes {@code file}. With {@code countFrames} the whole stream is decoded and {@link VideoInfo#frameCount()} is
     * the number of frames read; without it, the container's count.
     */
    public static VideoInfo probe(Path file, boolean countFrames) {
        if (!Files.isRegularFile(file))
            throw new VideoException(file, "no such file to probe");
        JsonNode root = run(file, countFrames);
        JsonNode stream = null;
        for (JsonNode s : root.path("streams")) {
            if ("video".equals(s.path("codec_type").asString(""))) {
                stream = s;
                break;
            }
        }
        if (stream == null)
            throw new VideoException(file, "ffprobe found no video stream");
        long frames = stream.path("nb_read_frames").asLong(-1);
        if (frames < 0) frames = stream.path("nb_frames").asLong(-1);
        double duration = stream.path("duration").asDouble(Double.NaN);
        if (Double.isNaN(duration)) duration = root.path("format").path("duration").asDouble(Double.NaN);
        try {
            return new VideoInfo(stream.path("codec_name").asString(""), stream.path("pix_fmt").asString(""),
                    stream.path("width").asInt(0), stream.path("height").asInt(0),
                    VideoInfo.FrameRate.parse(stream.path("r_frame_rate").asString("0/1")), frames, duration);
        } catch (IllegalArgumentException e) {
            throw new VideoException(file, "ffprobe reported an unreadable frame rate: " + e.getMessage(), e);
        }
    }

    private static JsonNode run(Path file, boolean countFrames) {
        List<String> args = countFrames
                ? List.of("-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", file.toString())
                : List.of("-v", "error", "-show_streams", "-show_format", "-of", "json", file.toString());
        ProcessBuilder builder = FfmpegTools.FFPROBE.process(args);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new VideoException(file, "cannot start ffprobe (" + builder.command().getFirst() + "): " + e.getMessage(), e);
        }
        try {
            process.getOutputStream().close();
            CompletableFuture<String> stderr = readAsync(process.getErrorStream());
            CompletableFuture<String> stdout = readAsync(process.getInputStream());
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new VideoException(file, "ffprobe did not finish within " + TIMEOUT_SECONDS + " s");
            }
            String out = stdout.get(), err = stderr.get().strip();
            if (process.exitValue() != 0)
                throw new VideoException(file, "ffprobe failed (exit " + process.exitValue() + ")" + (err.isEmpty() ? "" : ": " + err));
            try {
                return Json.MAPPER.readTree(out);
            } catch (JacksonException e) {
                throw new VideoException(file, "ffprobe wrote output that is not JSON: " + e.getOriginalMessage(), e);
            }
        } catch (IOException | ExecutionException e) {
            throw new VideoException(file, "cannot read ffprobe's output: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new VideoException(file, "interrupted while ffprobe was running", e);
        }
    }

    private static CompletableFuture<String> readAsync(InputStream in) {
        CompletableFuture<String> result = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try (in) {
                result.complete(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                result.completeExceptionally(e);
            }
        });
        return result;
    }
}
