package dev.kaze.pipeline.dit;

import dev.kaze.tensor.WeightStorage;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * How {@link WanDit} keeps its weights.
 *
 * @param dtype        the compute dtype of block Linears and the patch and text embeddings (float32 on the CPU,
 *                     bfloat16 on a GPU); the time embedding, modulation, norms and head stay float32
 * @param storage      how the block Linear weights (self/cross attention q, k, v, o and the two FFN Linears) are
 *                     kept: the compute dtype or float8; block weights a checkpoint stores as float8 stay float8
 * @param blocksToSwap how many of the last blocks keep their Linear weights in host memory, streamed to the device
 *                     block by block during every forward pass (0: all resident; the output is bit-identical either way)
 */
public record DitOptions(ScalarType dtype, WeightStorage storage, int blocksToSwap) {
    public DitOptions {
        if (dtype == null || storage == null) throw new IllegalArgumentException("the DiT's dtype and weight storage are required");
    }

    /** Every block resident, block Linears in the compute dtype. */
    public static DitOptions of(ScalarType dtype) { return new DitOptions(dtype, WeightStorage.COMPUTE, 0); }

    public DitOptions withStorage(WeightStorage s) { return new DitOptions(dtype, s, blocksToSwap); }

    public DitOptions withBlocksToSwap(int n) { return new DitOptions(dtype, storage, n); }
}
