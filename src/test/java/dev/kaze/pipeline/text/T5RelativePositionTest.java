package dev.kaze.pipeline.text;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The bidirectional bucket function (32 buckets, max_dist 128) against the table of spec §4.4. */
class T5RelativePositionTest {
    /** Spec §4.4, rel = key − query: {lowest |rel|, highest |rel|, bucket for rel ≤ 0}; rel > 0 adds 16. */
    private static final int[][] TABLE = {
            {0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {4, 4, 4}, {5, 5, 5}, {6, 6, 6}, {7, 7, 7},
            {8, 11, 8}, {12, 15, 9}, {16, 22, 10}, {23, 31, 11}, {32, 45, 12}, {46, 63, 13}, {64, 90, 14},
            {91, Integer.MAX_VALUE, 15}};

    private static int expectedBucket(int rel) {
        int a = Math.abs(rel);
        for (int[] row : TABLE)
            if (a >= row[0] && a <= row[1]) return row[2] + (rel > 0 ? 16 : 0);
        throw new AssertionError("table does not cover " + rel);
    }

    @Test
    void bucketsMatchTheReferenceTable() {
        try (PointerScope ignored = new PointerScope()) {
            int lo = -600, hi = 600;
            Tensor rel = torch.arange(new Scalar(lo), new Scalar(hi + 1), new TensorOptions(torch.ScalarType.Long));
            Tensor buckets = T5Encoder.relativePositionBucket(rel, 32, 128);
            assertEquals(torch.ScalarType.Long, buckets.scalar_type().intern());
            for (int r = lo; r <= hi; r++)
                assertEquals(expectedBucket(r), buckets.get(r - lo).item_long(), "bucket of rel " + r);
        }
    }

    @Test
    void boundariesOfTheTable() {
        long[][] cases = {{0, 0}, {-1, 1}, {1, 17}, {-7, 7}, {7, 23}, {-8, 8}, {8, 24}, {-11, 8}, {-12, 9},
                {-15, 9}, {-16, 10}, {-22, 10}, {-23, 11}, {-31, 11}, {-32, 12}, {-45, 12}, {-46, 13},
                {-63, 13}, {-64, 14}, {-90, 14}, {-91, 15}, {90, 30}, {91, 31}, {63, 29}, {64, 30}, {511, 31}, {-511, 15}};
        try (PointerScope ignored = new PointerScope()) {
            for (long[] c : cases) {
                Tensor rel = torch.full(new long[]{1}, new Scalar(c[0]), new TensorOptions(torch.ScalarType.Long));
                assertEquals(c[1], T5Encoder.relativePositionBucket(rel, 32, 128).item_long(), "bucket of rel " + c[0]);
            }
        }
    }

    @Test
    void biasIsLaidOutPerHeadQueryKey() {
        try (PointerScope ignored = new PointerScope()) {
            // embedding[bucket, head] = 100 * head + bucket, so the bias names its own bucket
            Tensor embedding = torch.arange(new Scalar(32), new TensorOptions(torch.ScalarType.Float)).unsqueeze(1)
                    .add(torch.arange(new Scalar(3), new TensorOptions(torch.ScalarType.Float)).mul(new Scalar(100.0)).unsqueeze(0));
            Tensor bias = T5Encoder.relativeEmbedding(embedding, 5, 7);   // [1, 3, 5, 7]
            assertEquals(java.util.List.of(1L, 3L, 5L, 7L), java.util.Arrays.stream(bias.sizes().vec().get()).boxed().toList());
            for (int h = 0; h < 3; h++)
                for (int i = 0; i < 5; i++)
                    for (int j = 0; j < 7; j++)
                        assertEquals(100.0 * h + expectedBucket(j - i), bias.get(0).get(h).get(i).get(j).item_double(),
                                "bias[h=" + h + ", q=" + i + ", k=" + j + "]");
        }
    }
}
