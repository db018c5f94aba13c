package dev.kaze.training;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.training.TrainingMemoryPlan.Bucket;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The training memory plan of the seed's dataset (recipe.md's TOML with only its paths changed: DatasetConfigReaderTest.REFERENCE) on Wan2.1-T2V-14B and a 24 GB card. */
class TrainingMemoryPlanTest {
    static final long BUDGET_24GB = 24_000_000_000L;
    static final DitConfig WAN_14B = DitConfig.WAN_14B;
    static final int RANK = 32;
    static final double ADAMW8BIT = 2 + 8.0 / 256;

    static List<Bucket> recipeBuckets() {
        return TrainingMemoryPlan.buckets(DatasetConfigReader.parse(Path.of("/data/dataset.toml"), DatasetConfigReaderTest.REFERENCE, true));
    }

    @Test void theRecipeDatasetHasItsFourBuckets() {
        assertEquals(List.of(new Bucket(768, 768, 1), new Bucket(768, 416, 1), new Bucket(768, 416, 21), new Bucket(384, 208, 45)), recipeBuckets());
    }

    /** LoRA rank 32 on the 14B's 400 Linears: 40 × 32 × (8 × (5120 + 5120) + 2 × (5120 + 13824)) elements. */
    @Test void loraSizeAndOptimizerState() {
        TrainingMemoryPlan p = new TrainingMemoryPlan(WAN_14B, new Bucket(384, 208, 45), true, 10, RANK, ADAMW8BIT, true);
        long expected = 40L * 32 * (8 * (5120 + 5120) + 2 * (5120 + 13824));
        assertEquals(153_354_240L, expected);
        assertEquals(expected, p.loraElements());
        System.out.printf("LoRA rank 32 on 14B: %,d parameters; float32 params %.3f GiB, grads %.3f GiB; AdamW moments %.3f GiB, AdamW8bit %.3f GiB%n",
                expected, TrainingMemoryPlan.gib(expected * 4), TrainingMemoryPlan.gib(expected * 4),
                TrainingMemoryPlan.gib(expected * 8), TrainingMemoryPlan.gib((long) (expected * ADAMW8BIT)));
        long adamw = new TrainingMemoryPlan(WAN_14B, new Bucket(384, 208, 45), true, 10, RANK, TrainingMemoryPlan.ADAMW_STATE_BYTES, true).peakBytes();
        assertEquals((long) Math.ceil(expected * 8.0) - (long) Math.ceil(expected * ADAMW8BIT), adamw - p.peakBytes(), "8-bit moments save exactly the state difference");
    }

    @Test void thePlanIsConsistentAndMonotone() {
        for (Bucket b : recipeBuckets())
            for (boolean fp8 : new boolean[]{false, true}) {
                long previous = Long.MAX_VALUE;
                for (int swap = 0; swap <= 39; swap++) {
                    TrainingMemoryPlan p = new TrainingMemoryPlan(WAN_14B, b, fp8, swap, RANK, ADAMW8BIT, true);
                    long terms = p.staticTerms().stream().mapToLong(TrainingMemoryPlan.Term::bytes).sum()
                            + p.activationTerms().stream().mapToLong(TrainingMemoryPlan.Term::bytes).sum();
                    assertEquals(terms + p.allocatorSlack(), p.peakBytes(), b + " swap " + swap + ": peak is the sum of its terms");
                    assertEquals(40 - swap + Math.min(swap, 2), p.deviceBlocks());
                    assertEquals(swap * p.blockLinearBytes(), p.hostBytes());
                    assertThat(p.peakBytes()).as(b + " swap " + swap + ": more swap, no higher peak").isLessThanOrEqualTo(previous);
                    if (swap > 2) assertEquals(p.blockLinearBytes(), previous - p.peakBytes(), b + " swap " + swap + ": one more swapped block saves one block");
                    previous = p.peakBytes();
                    TrainingMemoryPlan bf16 = new TrainingMemoryPlan(WAN_14B, b, false, swap, RANK, ADAMW8BIT, true);
                    if (fp8) assertThat(p.peakBytes()).as(b + " swap " + swap + ": fp8 below bf16").isLessThan(bf16.peakBytes());
                }
                TrainingMemoryPlan plain = new TrainingMemoryPlan(WAN_14B, b, fp8, 0, RANK, ADAMW8BIT, false);
                assertThat(new TrainingMemoryPlan(WAN_14B, b, fp8, 0, RANK, ADAMW8BIT, true).peakBytes()).as("checkpointing lowers the peak")
                        .isLessThan(plain.peakBytes());
            }
        // more tokens, more activations
        assertThat(new TrainingMemoryPlan(WAN_14B, new Bucket(768, 416, 21), true, 10, RANK, ADAMW8BIT, true).peakBytes())
                .isGreaterThan(new TrainingMemoryPlan(WAN_14B, new Bucket(768, 416, 1), true, 10, RANK, ADAMW8BIT, true).peakBytes());
    }

    /** The recipe on a 24 GB card: peaks with and without fp8 and swap, and the fewest blocks to swap that fit. */
    @Test void theRecipeOnA24GbCard() {
        List<Bucket> buckets = recipeBuckets();
        // bf16 block Linears alone: 40 × (8·5120² + 2·5120·13824) × 2 bytes = 28.1 GB, more than the card
        long bf16Blocks = 40L * (8L * 5120 * 5120 + 2L * 5120 * 13824) * 2;
        assertThat(bf16Blocks).isGreaterThan(BUDGET_24GB);
        System.out.println("Training memory plan, Wan2.1-T2V-14B, LoRA rank 32, AdamW8bit, gradient checkpointing, budget 24 GB (24e9 bytes):");
        System.out.printf("  %-14s %12s %12s %12s %12s%n", "bucket", "bf16 swap0", "fp8 swap0", "bf16 swap10", "fp8 swap10");
        for (Bucket b : buckets) {
            double[] g = new double[4];
            int i = 0;
            for (int swap : new int[]{0, 10}) for (boolean fp8 : new boolean[]{false, true})
                g[i++] = new TrainingMemoryPlan(WAN_14B, b, fp8, swap, RANK, ADAMW8BIT, true).peakBytes() / 1e9;
            System.out.printf("  %-14s %9.2f GB %9.2f GB %9.2f GB %9.2f GB%n", b, g[0], g[1], g[2], g[3]);
            assertThat(new TrainingMemoryPlan(WAN_14B, b, false, 0, RANK, ADAMW8BIT, true).peakBytes()).isGreaterThan(BUDGET_24GB);
        }
        System.out.print(new TrainingMemoryPlan(WAN_14B, new Bucket(768, 416, 21), true, 10, RANK, ADAMW8BIT, true).describe());
        int fewest = TrainingMemoryPlan.fewestBlocksToSwap(WAN_14B, buckets, true, RANK, ADAMW8BIT, true, BUDGET_24GB);
        int fewestBf16 = TrainingMemoryPlan.fewestBlocksToSwap(WAN_14B, buckets, false, RANK, ADAMW8BIT, true, BUDGET_24GB);
        System.out.println("  fewest blocks to swap within 24 GB: fp8_scaled " + fewest + ", bf16 " + fewestBf16);
        assertThat(fewest).as("some swap count fits the fp8 base in 24 GB").isBetween(0, 39);
        for (Bucket b : buckets)
            assertThat(new TrainingMemoryPlan(WAN_14B, b, true, fewest, RANK, ADAMW8BIT, true).peakBytes()).isLessThanOrEqualTo(BUDGET_24GB);
        if (fewest > 0)
            assertThat(buckets.stream().anyMatch(b -> new TrainingMemoryPlan(WAN_14B, b, true, fewest - 1, RANK, ADAMW8BIT, true).peakBytes() > BUDGET_24GB))
                    .as("one block fewer does not fit").isTrue();
        boolean tenFits = buckets.stream().allMatch(b -> new TrainingMemoryPlan(WAN_14B, b, true, 10, RANK, ADAMW8BIT, true).peakBytes() <= BUDGET_24GB);
        System.out.println("  blocks_to_swap 10 (the recipe) " + (tenFits ? "fits" : "does not fit") + " 24 GB with the fp8_scaled base");
        assertEquals(fewest <= 10, tenFits, "swap 10 fits exactly when the fewest fitting count is at most 10");
        assertThat(fewestBf16 == -1 || fewestBf16 > fewest).as("a bf16 base needs more swapping").isTrue();
    }
}
