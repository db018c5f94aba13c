package dev.kaze.video;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * Still images of one frame of {@link RgbFrames} (the first, by default) as JPEG or PNG, written through a temporary
 * file and moved into place like {@link Mp4Encoder}.
 */
public final class Thumbnail {
    public enum Format {
        JPEG("jpeg"), PNG("png");

        final String imageIoName;

        Format(String imageIoName) {
            this.imageIoName = imageIoName;
        }
    }

    /** JPEG quality, 0..1. */
    static final float JPEG_QUALITY = 0.92f;

    private Thumbnail() {
    }

    /** The first frame as a JPEG. */
    public static void writeJpeg(RgbFrames video, Path out) {
        write(video, 0, Format.JPEG, out);
    }

    /** The first frame as a PNG. */
    public static void writePng(RgbFrames video, Path out) {
        write(video, 0, Format.PNG, out);
    }

    /** Frame {@code t} of {@code video} as {@code format}, written to {@code out} (replacing it if present). */
    public static void write(RgbFrames video, int t, Format format, Path out) {
        if (t < 0 || t >= video.frames())
            throw new IllegalArgumentException("cannot write " + out + ": frame " + t + " is outside 0.." + (video.frames() - 1));
        BufferedImage image = image(video, t);
        Path target = out.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(target.getParent());
            tmp = Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".part");
            try (OutputStream os = Files.newOutputStream(tmp); ImageOutputStream ios = ImageIO.createImageOutputStream(os)) {
                encode(image, format, ios);
            }
            Mp4Encoder.moveIntoPlace(tmp, target);
            tmp = null;
        } catch (IOException e) {
            throw new VideoException(out, "cannot write the " + format + " thumbnail: " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original error matters more than a leftover .part file
                }
            }
        }
    }

    /** Frame {@code t} as a {@link BufferedImage} (TYPE_3BYTE_BGR). */
    public static BufferedImage image(RgbFrames video, int t) {
        int w = video.width(), h = video.height();
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] bgr = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
        byte[] rgb = video.rgb();
        int src = video.frameOffset(t);
        for (int i = 0; i < w * h * 3; i += 3) {
            bgr[i] = rgb[src + i + 2];
            bgr[i + 1] = rgb[src + i + 1];
            bgr[i + 2] = rgb[src + i];
        }
        return image;
    }

    private static void encode(BufferedImage image, Format format, ImageOutputStream ios) throws IOException {
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName(format.imageIoName);
        if (!writers.hasNext()) throw new IOException("no ImageIO writer for " + format);
        ImageWriter writer = writers.next();
        try {
            ImageWriteParam param = writer.getDefaultWriteParam();
            if (format == Format.JPEG) {
                param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                param.setCompressionQuality(JPEG_QUALITY);
            }
            writer.setOutput(ios);
            writer.write(null, new IIOImage(image, null, null), param);
        } finally {
            writer.dispose();
        }
    }
}
