package dev.kaze.pipeline.preview;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Node;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;

import static org.assertj.core.api.Assertions.assertThat;

class GifPreviewTest {
    @Test
    void encodesEveryFrameScaledUpAndLoopingForever() throws Exception {
        int frames = 3, w = 5, h = 4;
        byte[] rgb = new byte[frames * w * h * 3];
        for (int f = 0; f < frames; f++)
            for (int i = 0; i < w * h; i++) {
                int at = (f * w * h + i) * 3;
                rgb[at + f] = (byte) 255;          // frame 0 red, 1 green, 2 blue
            }
        byte[] gif = GifPreview.encode(new PreviewFrames(frames, w, h, rgb, 0), 2, 250);

        ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(gif))) {
            reader.setInput(in);
            assertThat(reader.getNumImages(true)).isEqualTo(frames);
            for (int f = 0; f < frames; f++) {
                BufferedImage image = reader.read(f);
                assertThat(image.getWidth()).isEqualTo(2 * w);
                assertThat(image.getHeight()).isEqualTo(2 * h);
                int expected = 0xff << (16 - 8 * f);
                assertThat(image.getRGB(9, 7) & 0xffffff).isEqualTo(expected);
                IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(f).getAsTree("javax_imageio_gif_image_1.0");
                assertThat(((IIOMetadataNode) root.getElementsByTagName("GraphicControlExtension").item(0)).getAttribute("delayTime")).isEqualTo("25");
                if (f == 0) {
                    Node app = root.getElementsByTagName("ApplicationExtension").item(0);
                    assertThat(app).isNotNull();
                    assertThat(((IIOMetadataNode) app).getAttribute("applicationID")).isEqualTo("NETSCAPE");
                    assertThat((byte[]) ((IIOMetadataNode) app).getUserObject()).containsExactly(1, 0, 0);
                }
            }
        } finally {
            reader.dispose();
        }
    }
}
