package dev.kaze.training;

import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads dataset clips with JavaCV's FFmpegFrameGrabber, counting frames as musubi-tuner does (every decoded frame in
 * decode order, timestamps ignored). Errors are {@link DatasetMediaException}s naming the file.
 */
public final class VideoClip {
    /** Frames counted by decoding, the container's frame rate, the first frame's size. */
    public record Info(int frameCount, double fps, Size size) {
    }

    private VideoClip() {
    }

    public static Info probe(Path file) {
        int[] count = {0};
        Size[] size = {null};
        double fps = decode(file, (index, frame) -> {
            if (size[0] == null) size[0] = new Size(frame.imageWidth, frame.imageHeight);
            count[0]++;
            return true;
        }, false);
        if (count[0] == 0) throw new DatasetMediaException(file, "the video has no decodable frames; re-encode or remove it");
        return new Info(count[0], fps, size[0]);
    }

    /** The frames at {@code indices} (decode order, 0-based; any order, repeats allowed) as RGB. */
    public static List<RgbImage> frames(Path file, int[] indices) {
        int[] sorted = Arrays.stream(indices).distinct().sorted().toArray();
        if (sorted.length == 0) return List.of();
        if (sorted[0] < 0) throw new IllegalArgumentException("frame index " + sorted[0] + " is negative");
        int last = sorted[sorted.length - 1];
        RgbImage[] got = new RgbImage[last + 1];
        decode(file, (index, frame) -> {
            if (Arrays.binarySearch(sorted, index) >= 0) got[index] = rgb(frame);
            return index < last;
        }, true);
        List<RgbImage> out = new ArrayList<>(indices.length);
        for (int i : indices) {
            if (got[i] == null)
                throw new DatasetMediaException(file, "frame " + i + " was asked for, but the video has fewer frames");
            out.add(got[i]);
        }
        return out;
    }

    private interface FrameSink {
        /** Returns whether to go on decoding. */
        boolean accept(int index, Frame frame);
    }

    private static double decode(Path file, FrameSink sink, boolean rgb) {
        if (!Files.isRegularFile(file)) throw new DatasetMediaException(file, "no such video file");
        FFmpegFrameGrabber grabber = new FFmpegFrameGrabber(file.toFile());
        if (rgb) grabber.setPixelFormat(avutil.AV_PIX_FMT_RGB24);
        String stage = "open the video";
        try {
            grabber.start();
            if (grabber.getVideoStream() < 0 || grabber.getImageWidth() <= 0)
                throw new DatasetMediaException(file, "no video stream found; is it a video file?");
            double fps = grabber.getFrameRate();
            int index = 0;
            Frame frame;
            while (true) {
                stage = "decode frame " + index;
                frame = grabber.grabImage();
                if (frame == null) break;
                if (!sink.accept(index++, frame)) break;
            }
            return fps;
        } catch (FFmpegFrameGrabber.Exception e) {
            throw new DatasetMediaException(file, "cannot " + stage + " (unreadable or unsupported video): " + e.getMessage()
                    + "; re-encode it (e.g. H.264 MP4) or remove it from the dataset", e);
        } finally {
            try {
                grabber.release();
            } catch (FFmpegFrameGrabber.Exception ignored) {
                // the first error matters more
            }
        }
    }

    private static RgbImage rgb(Frame frame) {
        int w = frame.imageWidth, h = frame.imageHeight, stride = frame.imageStride;
        ByteBuffer buf = (ByteBuffer) frame.image[0];
        byte[] out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) buf.get(y * stride, out, y * w * 3, w * 3);
        return new RgbImage(w, h, out);
    }
}
