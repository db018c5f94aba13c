package dev.kaze.video;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ThumbnailTest {
    @TempDir
    Path dir;

    final RgbFrames clip = TestClips.movingGradient(9, 48, 64, 16);

    @Test
    void jpegOfTheFirstFrameReadsBackAtTheRightSizeAndColour() throws Exception {
        Path out = dir.resolve("thumbs/first.jpg");
        Thumbnail.writeJpeg(clip, out);
        BufferedImage image = ImageIO.read(out.toFile());
        assertThat(image).as("ImageIO reads " + out).isNotNull();
        assertThat(image.getWidth()).isEqualTo(64);
        assertThat(image.getHeight()).isEqualTo(48);
        double[] expected = TestClips.meanColour(clip, 0), actual = mean(image);
        for (int c = 0; c < 3; c++) assertThat(actual[c]).as("channel " + c).isCloseTo(expected[c], within(2.0));
    }

    @Test
    void pngIsExact() throws Exception {
        Path out = dir.resolve("frame4.png");
        Thumbnail.write(clip, 4, Thumbnail.Format.PNG, out);
        BufferedImage image = ImageIO.read(out.toFile());
        assertThat(image.getWidth()).isEqualTo(64);
        assertThat(image.getHeight()).isEqualTo(48);
        int off = clip.frameOffset(4);
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++) {
                int i = off + (y * 64 + x) * 3;
                int expected = (clip.rgb()[i] & 0xff) << 16 | (clip.rgb()[i + 1] & 0xff) << 8 | (clip.rgb()[i + 2] & 0xff);
                assertThat(image.getRGB(x, y) & 0xffffff).as("pixel " + x + "," + y).isEqualTo(expected);
            }
    }

    @Test
    void frameOutOfRangeNamesTheFile() {
        Path out = dir.resolve("nope.jpg");
        assertThatThrownBy(() -> Thumbnail.write(clip, 9, Thumbnail.Format.JPEG, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nope.jpg").hasMessageContaining("0..8");
        assertThat(out).doesNotExist();
    }

    static double[] mean(BufferedImage image) {
        double[] sum = new double[3];
        for (int y = 0; y < image.getHeight(); y++)
            for (int x = 0; x < image.getWidth(); x++) {
                int p = image.getRGB(x, y);
                sum[0] += p >> 16 & 0xff;
                sum[1] += p >> 8 & 0xff;
                sum[2] += p & 0xff;
            }
        int n = image.getWidth() * image.getHeight();
        return new double[]{sum[0] / n, sum[1] / n, sum[2] / n};
    }
}
