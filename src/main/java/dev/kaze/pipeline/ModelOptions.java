package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.vae.VaeConfig;
import dev.kaze.tensor.WeightStorage;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Locale;

/**
 * How a loaded model uses memory.
 *
 * @param storage           how the DiT keeps its block Linear weights (compute dtype or float8)
 * @param blocksToSwap      how many DiT blocks keep their Linear weights in host memory, or auto
 * @param memoryBudgetBytes the device memory a render may plan for (used by auto)
 * @param textEncoderOnHost run umT5 on the host (CPU) whatever the device; otherwise its host weights are copied to
 *                          the device for each encoding and released after it (umT5 is never resident during denoising)
 */
public record ModelOptions(WeightStorage storage, BlocksToSwap blocksToSwap, long memoryBudgetBytes, boolean textEncoderOnHost) {
    /** 24 GiB, the card the product targets. */
    public static final long DEFAULT_BUDGET = 24L << 30;

    public static final ModelOptions DEFAULT = new ModelOptions(WeightStorage.COMPUTE, BlocksToSwap.NONE, DEFAULT_BUDGET, false);

    public ModelOptions {
        if (storage == null || blocksToSwap == null) throw new IllegalArgumentException("storage and blocksToSwap are required");
        if (memoryBudgetBytes <= 0) throw new IllegalArgumentException("the memory budget must be positive, got " + memoryBudgetBytes + " bytes");
    }

    public static ModelOptions of(WeightStorage storage) { return new ModelOptions(storage, BlocksToSwap.NONE, DEFAULT_BUDGET, false); }

    public ModelOptions withBlocksToSwap(BlocksToSwap n) { return new ModelOptions(storage, n, memoryBudgetBytes, textEncoderOnHost); }

    /**
     * How the DiT keeps its weights with these options and this compute dtype: this storage and the
     * fixed swap count (0 with auto, until a render's size sets it).
     */
    public DitOptions dit(ScalarType dtype) {
        return new DitOptions(dtype, storage, blocksToSwap.auto() ? 0 : blocksToSwap.count());
    }

    /** The number of blocks to swap for a render of this size ({@link #plan(DitConfig, VaeConfig, int, int, int)}). */
    public int blocksToSwap(DitConfig dit, VaeConfig vae, int width, int height, int frames) {
        return plan(dit, vae, width, height, frames).swap();
    }

    /**
     * The memory plan of a render of this size: the fixed swap count (at most the model's blocks),
     * or with auto the smallest count whose planned peak fits the budget, trying an untiled VAE
     * decode first and then decode tiles, largest first (tiles only when they lower the count, or
     * when nothing fits untiled); then the VAE decodes in the largest tile that fits (untiled when
     * everything fits). Throws when even all blocks swapped with the smallest tile do not fit.
     */
    public MemoryPlan plan(DitConfig dit, VaeConfig vae, int width, int height, int frames) {
        MemoryPlan p = plan(dit, vae, width, height, frames, 0);
        int n;
        if (!blocksToSwap.auto()) {
            if (blocksToSwap.count() > dit.numLayers())
                throw new IllegalArgumentException("kaze.dit.blocks-to-swap is " + blocksToSwap.count() + " but the model has "
                        + dit.numLayers() + " blocks; use 0.." + dit.numLayers() + " or auto");
            n = blocksToSwap.count();
        } else {
            n = -1;
            IllegalArgumentException last = null;
            int[] tiles = new int[MemoryPlan.DECODE_TILES.length + 1];
            System.arraycopy(MemoryPlan.DECODE_TILES, 0, tiles, 1, MemoryPlan.DECODE_TILES.length);
            for (int tile : tiles) {
                try {
                    int m = p.withDecodeTile(tile).chooseSwap(memoryBudgetBytes);
                    if (n < 0 || m < n) n = m;
                } catch (IllegalArgumentException e) {
                    if (last == null) last = e;
                }
            }
            if (n < 0) throw last;
        }
        MemoryPlan swapped = p.withSwap(n);
        return swapped.withDecodeTile(swapped.chooseDecodeTile(memoryBudgetBytes));
    }

    /** The memory plan of a render with this storage and swap count, decoding untiled. */
    public MemoryPlan plan(DitConfig dit, VaeConfig vae, int width, int height, int frames, int swap) {
        return new MemoryPlan(dit, vae, width, height, frames, storage.isFloat8() ? MemoryPlan.Storage.FP8 : MemoryPlan.Storage.BF16, swap);
    }

    /** A fixed number of blocks to swap, or auto (chosen per render size from the memory budget). */
    public record BlocksToSwap(int count, boolean auto) {
        public static final BlocksToSwap NONE = new BlocksToSwap(0, false);
        public static final BlocksToSwap AUTO = new BlocksToSwap(0, true);

        public BlocksToSwap {
            if (count < 0) throw new IllegalArgumentException("blocks to swap must be 0 or more, got " + count);
        }

        public static BlocksToSwap of(int count) { return new BlocksToSwap(count, false); }

        /** "auto" or a non-negative integer. */
        public static BlocksToSwap parse(String value) {
            String v = value == null ? "0" : value.strip().toLowerCase(Locale.ROOT);
            if (v.equals("auto")) return AUTO;
            try {
                return of(Integer.parseInt(v));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("kaze.dit.blocks-to-swap is '" + value
                        + "'; use a number of blocks (0 keeps all on the device) or auto (chosen from kaze.device.memory-budget)");
            }
        }
    }
}
