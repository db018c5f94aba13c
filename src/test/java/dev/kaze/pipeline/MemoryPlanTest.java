package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.vae.VaeConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryPlanTest {
    static final long BUDGET = 24_000_000_000L;   // a 24 GB card, in decimal GB (24 GiB cards have 7% more)

    @Test
    void fp8With14bAt640x480x81FitsIn24GbWithTheChosenSwap() {
        MemoryPlan fp8 = new MemoryPlan(DitConfig.WAN_14B, VaeConfig.wan21(), 640, 480, 81, MemoryPlan.Storage.FP8, 0);
        int n = fp8.chooseSwap(BUDGET);
        MemoryPlan chosen = fp8.withSwap(n);
        System.out.println("chosen swap N = " + n + "\n" + chosen.describe());
        assertEquals(25200, chosen.tokens());              // 21 x 30 x 40 patches
        assertTrue(chosen.peakBytes() < BUDGET, chosen.describe());
        if (n > 0) assertTrue(fp8.withSwap(n - 1).peakBytes() > BUDGET, "N is the smallest that fits");
    }

    @Test
    void bf16WithoutSwapDoesNotFit() {
        MemoryPlan bf16 = new MemoryPlan(DitConfig.WAN_14B, VaeConfig.wan21(), 640, 480, 81, MemoryPlan.Storage.BF16, 0);
        System.out.println(bf16.describe());
        assertTrue(bf16.peakBytes() > BUDGET);
        // 40 blocks x 351.3M Linear weights x 2 bytes alone exceed the card
        assertTrue(40L * (8L * 5120 * 5120 + 2L * 5120 * 13824) * 2 > BUDGET);
        int n = bf16.chooseSwap(BUDGET);
        System.out.println("bf16 needs swap N = " + n + "\n" + bf16.withSwap(n).describe());
        assertTrue(n > 0 && bf16.withSwap(n).peakBytes() <= BUDGET);
    }

    @Test
    void termsFollowTensorSizes() {
        MemoryPlan p = new MemoryPlan(DitConfig.WAN_14B, VaeConfig.wan21(), 640, 480, 81, MemoryPlan.Storage.FP8, 0);
        long c = 5120, f = 13824;
        // fp8 Linear weights + float32 scales + bf16 biases per output row + float32 norms and modulation
        assertEquals((8 * c * c + 2 * c * f) + (9 * c + f) * 6 + (4 * c + 2 * c + 6 * c) * 4, p.blockBytes());
        assertEquals(40 + 2 - 2, p.withSwap(2).deviceBlocks());
        assertEquals(40 - 10 + 2, p.withSwap(10).deviceBlocks());
        // Wan2.1 VAE: 126.9M parameters (Wan2.1_VAE.pth holds 508 MB of float32)
        assertEquals(126.9e6, p.vaeParams(), 0.5e6);
        assertThrows(IllegalArgumentException.class, () -> p.chooseSwap(1_000_000_000L));
    }

    @Test
    void autoOptionsFor14bFp8At640x480x81FitA24GbCard() {
        for (long budget : new long[]{BUDGET, 24L << 30}) {
            ModelOptions auto = new ModelOptions(dev.kaze.tensor.WeightStorage.perTensor(dev.kaze.tensor.WeightStorage.Format.FP8_E4M3),
                    ModelOptions.BlocksToSwap.AUTO, budget, false);
            MemoryPlan plan = auto.plan(DitConfig.WAN_14B, VaeConfig.wan21(), 640, 480, 81);
            System.out.println("auto, budget " + budget + ": swap " + plan.swap() + "\n" + plan.describe());
            assertEquals(MemoryPlan.Storage.FP8, plan.storage());
            assertTrue(plan.peakBytes() < budget, plan.describe());
            if (plan.swap() > 0) assertTrue(plan.withSwap(plan.swap() - 1).peakBytes() > budget
                    && plan.withSwap(plan.swap() - 1).withDecodeTile(16).peakBytes() > budget, "the chosen swap is the smallest");
        }
    }

    @Test
    void decodeTilesBoundTheVaeTerm() {
        MemoryPlan p = new MemoryPlan(DitConfig.WAN_14B, VaeConfig.wan21(), 1280, 720, 81, MemoryPlan.Storage.FP8, 40);
        long untiled = p.decodeTerms().stream().mapToLong(MemoryPlan.Term::bytes).sum();
        MemoryPlan tiled = p.withDecodeTile(32);
        long perTile = tiled.decodeTerms().stream().mapToLong(MemoryPlan.Term::bytes).sum();
        System.out.println(tiled.describe());
        assertEquals(new dev.kaze.pipeline.vae.DecodeTiling(32, 8), tiled.decodeTiling());
        assertTrue(perTile < untiled, "tiles lower the decode term: " + perTile + " vs " + untiled);
        // 90 x 160 latent pixels in tiles of 32 at stride 24: rows 0, 24, 48, 58; columns 0, 24, ..., 120, 128
        assertEquals(4, tiled.decodeTiling().starts(90).size());
        assertEquals(java.util.List.of(0L, 24L, 48L, 58L), tiled.decodeTiling().starts(90));
        assertEquals(java.util.List.of(0L, 24L, 48L, 72L, 96L, 120L, 128L), tiled.decodeTiling().starts(160));
        // a tile no smaller than the latent is an untiled decode
        assertEquals(null, p.withDecodeTile(160).decodeTiling());
        // untiled when it fits; a tile when only the decode term is over the budget
        long budget = tiled.peakBytes();
        assertTrue(p.peakBytes() > budget);
        int chosen = p.chooseDecodeTile(budget);
        assertTrue(chosen > 0 && p.withDecodeTile(chosen).peakBytes() <= budget, "tile " + chosen);
        assertEquals(0, p.chooseDecodeTile(p.peakBytes()));
    }
}
