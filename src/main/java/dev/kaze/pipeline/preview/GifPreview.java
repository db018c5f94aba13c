package dev.kaze.pipeline.preview;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOInvalidTreeException;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Encodes {@link PreviewFrames} as a looping animated GIF, each frame scaled up by an integer factor
 * (nearest neighbour) and mapped to a fixed 6x6x6 colour cube (no per-frame palette search, so it is quick).
 */
public final class GifPreview {
    private GifPreview() {}

    private static final String FORMAT = "javax_imageio_gif_image_1.0";
    private static final IndexColorModel CUBE = cube();

    /** scale: 1..8; delayMs: how long each frame shows (GIF keeps hundredths of a second). */
    public static byte[] encode(PreviewFrames p, int scale, int delayMs) {
        if (scale < 1 || scale > 8) throw new IllegalArgumentException("scale must be 1..8, got " + scale);
        int w = p.width() * scale, h = p.height() * scale;
        ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.prepareWriteSequence(null);
            for (int f = 0; f < p.frames(); f++) {
                BufferedImage image = frame(p, f, scale, w, h);
                IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(image), writer.getDefaultWriteParam());
                frameMetadata(meta, Math.max(1, Math.round(delayMs / 10f)), f == 0);
                writer.writeToSequence(new IIOImage(image, null, meta), null);
            }
            writer.endWriteSequence();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode the preview GIF: " + e.getMessage(), e);
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }

    private static BufferedImage frame(PreviewFrames p, int f, int scale, int w, int h) {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, CUBE);
        byte[] index = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
        byte[] rgb = p.rgb();
        int base = f * p.height() * p.width() * 3;
        for (int y = 0; y < h; y++) {
            int row = base + (y / scale) * p.width() * 3;
            for (int x = 0; x < w; x++) {
                int at = row + (x / scale) * 3;
                index[y * w + x] = (byte) (level(rgb[at]) * 36 + level(rgb[at + 1]) * 6 + level(rgb[at + 2]));
            }
        }
        return image;
    }

    /** 0..255 to the nearest of the cube's six levels 0, 51, …, 255. */
    private static int level(byte v) { return ((v & 0xff) + 25) / 51; }

    private static IndexColorModel cube() {
        byte[] r = new byte[256], g = new byte[256], b = new byte[256];
        for (int i = 0; i < 216; i++) {
            r[i] = (byte) (i / 36 * 51);
            g[i] = (byte) (i / 6 % 6 * 51);
            b[i] = (byte) (i % 6 * 51);
        }
        return new IndexColorModel(8, 256, r, g, b);
    }

    /** The frame's delay, and on the first frame the NETSCAPE2.0 extension that makes viewers loop forever. */
    private static void frameMetadata(IIOMetadata meta, int delayCs, boolean first) throws IIOInvalidTreeException {
        IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(FORMAT);
        IIOMetadataNode control = child(root, "GraphicControlExtension");
        control.setAttribute("disposalMethod", "none");
        control.setAttribute("userInputFlag", "FALSE");
        control.setAttribute("transparentColorFlag", "FALSE");
        control.setAttribute("delayTime", Integer.toString(delayCs));
        control.setAttribute("transparentColorIndex", "0");
        if (first) {
            IIOMetadataNode app = new IIOMetadataNode("ApplicationExtension");
            app.setAttribute("applicationID", "NETSCAPE");
            app.setAttribute("authenticationCode", "2.0");
            app.setUserObject(new byte[]{1, 0, 0});   // sub-block 1, loop count 0 (forever), little-endian
            child(root, "ApplicationExtensions").appendChild(app);
        }
        meta.setFromTree(FORMAT, root);
    }

    private static IIOMetadataNode child(IIOMetadataNode root, String name) {
        for (int i = 0; i < root.getLength(); i++)
            if (root.item(i).getNodeName().equalsIgnoreCase(name)) return (IIOMetadataNode) root.item(i);
        IIOMetadataNode node = new IIOMetadataNode(name);
        root.appendChild(node);
        return node;
    }
}
