package dev.kaze.training;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Bucket tables and choices of the musubi training spec §1.10 and Appendix A (expected values from the spec). */
class BucketSelectorTest {
    private static Size s(int w, int h) {
        return new Size(w, h);
    }

    @Test
    void square768Table() {
        List<Size> buckets = BucketSelector.bucketList(s(768, 768));
        assertThat(buckets).hasSize(49);
        assertThat(buckets.getFirst()).isEqualTo(s(384, 1536));
        assertThat(buckets.getLast()).isEqualTo(s(1536, 384));
        assertThat(buckets).contains(s(768, 768), s(1024, 576), s(576, 1024));
        assertThat(buckets).allSatisfy(b -> {
            assertThat(b.width() % 16).isZero();
            assertThat(b.height() % 16).isZero();
            assertThat(b.area()).isLessThanOrEqualTo(768L * 768);
        });
    }

    @Test
    void square768Choices() {
        var upscale = new BucketSelector(s(768, 768), true, false);
        assertThat(upscale.select(s(1920, 1080))).isEqualTo(s(1024, 576));
        var noUpscale = new BucketSelector(s(768, 768), true, true);
        assertThat(noUpscale.select(s(1920, 1080))).isEqualTo(s(1024, 576));
        assertThat(noUpscale.select(s(512, 512))).isEqualTo(s(512, 512));
        assertThat(noUpscale.select(s(500, 300))).isEqualTo(s(496, 288));
    }

    @Test
    void wide768x416Table() {
        var sel = new BucketSelector(s(768, 416), true, false);
        assertThat(sel.buckets()).hasSize(37);
        assertThat(sel.select(s(1920, 1080))).isEqualTo(s(768, 416));
        assertThat(sel.select(s(1280, 720))).isEqualTo(s(768, 416));
        assertThat(sel.select(s(640, 360))).isEqualTo(s(768, 416));
        assertThat(sel.select(s(1080, 1920))).isEqualTo(s(416, 768));
        assertThat(new BucketSelector(s(768, 416), true, true).select(s(640, 360))).isEqualTo(s(640, 352));
    }

    @Test
    void small384x208Table() {
        var sel = new BucketSelector(s(384, 208), true, false);
        assertThat(sel.buckets()).hasSize(20);
        assertThat(sel.select(s(1920, 1080))).isEqualTo(s(384, 208));
        assertThat(sel.select(s(1080, 1920))).isEqualTo(s(208, 384));
    }

    @Test
    void withoutBucketsThereIsOneAndNoUpscaleIsOff() {
        var sel = new BucketSelector(s(768, 416), false, true);
        assertThat(sel.buckets()).containsExactly(s(768, 416));
        assertThat(sel.select(s(100, 100))).isEqualTo(s(768, 416));
        assertThat(sel.select(s(1080, 1920))).isEqualTo(s(768, 416));
    }

    @Test
    void coverThenCentreCrop() {
        // same ratio: only scaled
        var exact = BucketSelector.CoverCrop.of(s(1920, 1080), s(1024, 576));
        assertThat(exact.scaled()).isEqualTo(s(1024, 576));
        assertThat(exact.cropLeft()).isZero();
        assertThat(exact.cropTop()).isZero();
        // 1920x1040 → 768x416: scale 0.4 both ways
        assertThat(BucketSelector.CoverCrop.of(s(1920, 1040), s(768, 416)).scaled()).isEqualTo(s(768, 416));
        // 640x360 → 768x416: scale max(1.2, 1.1556) = 1.2 → 768x432, crop 8 rows from the top
        var up = BucketSelector.CoverCrop.of(s(640, 360), s(768, 416));
        assertThat(up.scaled()).isEqualTo(s(768, 432));
        assertThat(up.cropLeft()).isZero();
        assertThat(up.cropTop()).isEqualTo(8);
        assertThat(up.upscales()).isTrue();
        // 500x300 → 496x288: scale max(0.992, 0.96) = 0.992 → 496x298 (297.6 rounds up), crop top (298-288)//2 = 5
        var down = BucketSelector.CoverCrop.of(s(500, 300), s(496, 288));
        assertThat(down.scaled()).isEqualTo(s(496, 298));
        assertThat(down.cropTop()).isEqualTo(5);
        assertThat(down.upscales()).isFalse();
    }

    @Test
    void resizesAndCropsPixels() {
        // left half red, right half blue, 40x20 → bucket 32x32: scale 1.6 → 64x32, crop 16 columns on the left
        byte[] rgb = new byte[40 * 20 * 3];
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 40; x++) {
                int i = (y * 40 + x) * 3;
                if (x < 20) rgb[i] = (byte) 200;
                else rgb[i + 2] = (byte) 200;
            }
        RgbImage out = BucketResize.toBucket(new RgbImage(40, 20, rgb), s(32, 32));
        assertThat(out.size()).isEqualTo(s(32, 32));
        // the centre crop keeps x in [16, 48) of the 64-wide image: red left of 32, blue right
        assertThat(out.rgb()[(16 * 32 + 2) * 3] & 0xff).isBetween(190, 210);
        assertThat(out.rgb()[(16 * 32 + 2) * 3 + 2] & 0xff).isLessThan(10);
        assertThat(out.rgb()[(16 * 32 + 29) * 3 + 2] & 0xff).isBetween(190, 210);
        assertThat(out.rgb()[(16 * 32 + 29) * 3] & 0xff).isLessThan(10);

        // a 2x2 checkerboard of 0/255 averaged down by 2 is mid grey
        byte[] board = new byte[8 * 8 * 3];
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
                for (int c = 0; c < 3; c++) board[(y * 8 + x) * 3 + c] = (byte) (((x + y) % 2) * 255);
        RgbImage half = BucketResize.resize(new RgbImage(8, 8, board), s(4, 4));
        for (byte b : half.rgb()) assertThat(b & 0xff).isBetween(127, 128);

        // BufferedImage round trip
        var image = BucketResize.toBucket(new RgbImage(40, 20, rgb).toBufferedImage(), s(32, 32));
        assertThat(image.getWidth()).isEqualTo(32);
        assertThat(image.getHeight()).isEqualTo(32);
    }
}
