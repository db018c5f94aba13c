package dev.kaze.pipeline.dit;

import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.tensor.Ops;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

import static dev.kaze.tensor.Ops.s;

/**
 * Times one DiT block and its parts at the benchmark's shape, outside the loop (the model code
 * has no timer hooks): the whole block, self-attention (projections, RoPE, SDPA), the SDPA alone,
 * RoPE alone (in place), cross-attention with NAG, and the FFN. Best of reps, in seconds.
 */
public final class BlockProbe {
    private BlockProbe() {}

    public static Map<String, Double> profile(WanDit dit, long gf, long gh, long gw, Tensor context, Tensor nagContext,
                                              Nag nag, int reps, Runnable sync) {
        DitConfig cfg = dit.config();
        WanAttentionBlock block = dit.blocks().getFirst();
        long l = gf * gh * gw, c = cfg.dim(), n = cfg.numHeads(), d = cfg.headDim();
        Map<String, Double> out = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            TensorOptions f32 = new TensorOptions(ScalarType.Float).device(new org.bytedeco.pytorch.DeviceOptional(context.device()));
            Tensor x = torch.randn(new long[]{1, l, c}, f32);                                   // x: [1, L, C]
            Tensor e0 = torch.randn(new long[]{1, 6, c}, f32).mul(s(0.1));                       // e0: [1, 6, C]
            Tensor rope = new RopeFreqs(cfg.headDim()).table(gf, gh, gw);                       // [L, 1, D/2] complex64
            Tensor xc = Ops.as(x, dit.dtype());
            Tensor q = Ops.as(torch.randn(new long[]{1, n, l, d}, f32), dit.dtype());           // [1, N, L, D]
            Tensor k = Ops.as(torch.randn(new long[]{1, n, l, d}, f32), dit.dtype());
            Tensor v = Ops.as(torch.randn(new long[]{1, n, l, d}, f32), dit.dtype());
            Tensor xq = torch.randn(new long[]{1, l, n, d}, f32);                               // [1, L, N, D], rotated in place
            out.put("block", best(reps, sync, () -> block.forward(x, e0, rope, context, nagContext, nag)));
            out.put("self_attn", best(reps, sync, () -> block.selfAttn.forward(xc, rope)));
            out.put("self_attn.sdpa", best(reps, sync, () -> Attention.forward(q, k, v)));
            out.put("self_attn.rope", best(reps, sync, () -> RopeFreqs.apply(xq, rope)));
            out.put("cross_attn", best(reps, sync, () -> block.crossAttn.forward(xc, context, nagContext, nag)));
            out.put("ffn", best(reps, sync, () -> block.ffn2.forward(torch.gelu_(block.ffn0.forward(xc), "tanh"))));
        }
        return out;
    }

    private static double best(int reps, Runnable sync, Supplier<Tensor> f) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            try (PointerScope scope = new PointerScope()) {
                sync.run();
                long t0 = System.nanoTime();
                f.get();
                sync.run();
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
        }
        return best;
    }
}
