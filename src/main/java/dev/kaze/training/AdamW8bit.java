// Port of bitsandbytes' AdamW8bit (optim/adamw.py, optim/optimizer.py Optimizer8bit with block-wise
// 8-bit state; functional.py create_dynamic_map; the 2-state block-wise update of its kernels).
package dev.kaze.training;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.kaze.tensor.Ops.s;

/**
 * AdamW with 8-bit moments, as bitsandbytes' {@code AdamW8bit} keeps them: each moment is stored as
 * one byte per element, an index into a 256-value code, with one float32 absmax per block of
 * {@value #BLOCK_SIZE} consecutive elements (the last block may be shorter); the value is
 * code[index] · absmax. The first moment uses the signed dynamic code ({@code create_dynamic_map(signed=True)}),
 * the second the unsigned one. Per step and element, in float32:
 * m ← code₁[q₁]·absmax₁, v ← code₂[q₂]·absmax₂; m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p·(1 − lr·wd); p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps); then each moment is
 * requantised: absmax = max |·| over the block, index = the code value nearest to value/absmax
 * (ties to the lower index; absmax 0 stores code 0). A parameter with fewer than {@value #MIN_8BIT_SIZE}
 * elements keeps float32 moments with the same update, as bitsandbytes' min_8bit_size does.
 * State: about 2 bytes per element (plus 8 bytes per block) against AdamW's 8.
 */
public final class AdamW8bit implements LoraOptimizer {
    /** Elements per absmax block of bitsandbytes' 8-bit block-wise optimizers. */
    public static final int BLOCK_SIZE = 256;
    /** Bytes of optimizer state per parameter element: two 8-bit moments and a float32 absmax per block of each. */
    public static final double STATE_BYTES_PER_ELEMENT = 2 + 8.0 / BLOCK_SIZE;
    /** bitsandbytes' min_8bit_size: smaller parameters keep 32-bit moments. */
    public static final long MIN_8BIT_SIZE = 4096;

    /** One parameter's state: 8-bit (q1, absmax1, q2, absmax2) or 32-bit (m, v). */
    private record State(Tensor param, Tensor q1, Tensor absmax1, Tensor q2, Tensor absmax2, Tensor m, Tensor v) {
        boolean eightBit() { return q1 != null; }

        List<Tensor> tensors() {
            List<Tensor> ts = new ArrayList<>();
            for (Tensor t : new Tensor[]{param, q1, absmax1, q2, absmax2, m, v}) if (t != null) ts.add(t);
            return ts;
        }
    }

    private final AdamW.Settings settings;
    private final Map<String, State> state = new LinkedHashMap<>();
    private final Tensor signedCode, unsignedCode;   // [256] float32, sorted, on the CPU
    private long step;
    private boolean closed;

    public AdamW8bit(Map<String, Tensor> parameters, AdamW.Settings settings) {
        this.settings = settings;
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            signedCode = dynamicMap(true);     // dynamicMap's reference is ours, released by close
            unsignedCode = dynamicMap(false);
            for (var e : parameters.entrySet()) {
                Tensor p = e.getValue();
                State st;
                if (p.numel() >= MIN_8BIT_SIZE) {
                    TensorOptions u8 = new TensorOptions(ScalarType.Byte).device(new DeviceOptional(p.device()));
                    TensorOptions f32 = new TensorOptions(ScalarType.Float).device(new DeviceOptional(p.device()));
                    long blocks = blocks(p.numel());
                    // zero absmax: every element decodes to 0 whatever its index
                    st = new State(p, torch.zeros(new long[]{p.numel()}, u8), torch.zeros(new long[]{blocks}, f32),
                            torch.zeros(new long[]{p.numel()}, u8), torch.zeros(new long[]{blocks}, f32), null, null);
                } else {
                    st = new State(p, null, null, null, null, torch.zeros_like(p).to(ScalarType.Float), torch.zeros_like(p).to(ScalarType.Float));
                }
                for (Tensor t : st.tensors()) t.retainReference();
                state.put(e.getKey(), st);
            }
        }
    }

    private static long blocks(long n) { return (n + BLOCK_SIZE - 1) / BLOCK_SIZE; }

    /**
     * bitsandbytes' create_dynamic_map(signed, max_exponent_bits = 7, total_bits = 8), float32 [256],
     * sorted: for i = 0..6, the midpoints of linspace(0.1, 1, k + 1) (float32) times 10^(i − 6), with
     * k = 2^i values (signed, each also negated) or 2^(i+1) (unsigned); then 0 and 1.
     */
    public static Tensor dynamicMap(boolean signed) {
        try (PointerScope scope = new PointerScope()) {
            TensorVector parts = new TensorVector();
            TensorOptions f32 = new TensorOptions(ScalarType.Float);
            for (int i = 0; i < 7; i++) {
                long items = (signed ? 1L << i : 1L << (i + 1)) + 1;
                Tensor b = torch.linspace(new Scalar(0.1), new Scalar(1.0), items, f32);             // [items]
                Tensor means = b.narrow(0, 0, items - 1).add(b.narrow(0, 1, items - 1)).div(s(2.0));   // [items − 1]
                Tensor values = means.mul(s(Math.pow(10, i - 6)));
                parts.push_back(values);
                if (signed) parts.push_back(values.neg());
            }
            parts.push_back(torch.zeros(new long[]{1}, f32));
            parts.push_back(torch.ones(new long[]{1}, f32));
            Tensor code = torch.cat(parts);
            if (code.numel() != 256) throw new IllegalStateException("dynamic map has " + code.numel() + " values, not 256");
            Tensor sorted = torch.sort(code).get0().contiguous();
            sorted.retainReference();
            return sorted;
        }
    }

    /** Indices [n] uint8 and absmax [blocks] float32 of x (any shape) with a sorted code [256]. */
    static Tensor[] quantize(Tensor x, Tensor code) {
        long n = x.numel(), blocks = blocks(n);
        Tensor flat = x.to(ScalarType.Float).reshape(-1);                                            // [n]
        Tensor padded = blocks * BLOCK_SIZE == n ? flat
                : torch.cat(new TensorVector(flat, torch.zeros(new long[]{blocks * BLOCK_SIZE - n}, new TensorOptions(ScalarType.Float)
                        .device(new DeviceOptional(flat.device())))));
        Tensor rows = padded.view(blocks, BLOCK_SIZE);                                               // [blocks, 256]
        Tensor absmax = rows.abs().amax(new long[]{1}, false);                                       // [blocks]
        Tensor inv = torch.where(absmax.gt(s(0)), absmax.reciprocal(), torch.zeros_like(absmax));    // 1/absmax, 0 for an all-zero block
        Tensor normed = rows.mul(inv.unsqueeze(1)).clamp(new ScalarOptional(s(-1.0)), new ScalarOptional(s(1.0)));                                  // [blocks, 256] in [−1, 1]
        Tensor c = code.to(flat.device(), ScalarType.Float);
        Tensor mids = c.narrow(0, 0, 255).add(c.narrow(0, 1, 255)).div(s(2.0));                      // [255] midpoints
        Tensor idx = torch.bucketize(normed.reshape(-1), mids, false, false);                        // nearest code, ties to the lower
        return new Tensor[]{idx.narrow(0, 0, n).to(ScalarType.Byte), absmax};
    }

    /** code[q] · absmax of its block, float32 with the given shape. */
    static Tensor dequantize(Tensor q, Tensor absmax, Tensor code, long[] shape) {
        long n = q.numel(), blocks = absmax.numel();
        Tensor values = code.to(q.device(), ScalarType.Float).index_select(0, q.to(ScalarType.Long));  // [n]
        Tensor scale = absmax.repeat_interleave(BLOCK_SIZE).narrow(0, 0, n);                            // [n]
        if (blocks != blocks(n)) throw new IllegalArgumentException("absmax has " + blocks + " blocks for " + n + " elements");
        return values.mul(scale).view(shape);
    }

    public AdamW.Settings settings() { return settings; }

    /** The stored 8-bit state of one parameter: {indices₁, absmax₁, indices₂, absmax₂}; null for 32-bit state (for tests). */
    Tensor[] quantizedState(String name) {
        State st = state.get(name);
        return st == null || !st.eightBit() ? null : new Tensor[]{st.q1, st.absmax1, st.q2, st.absmax2};
    }

    @Override public String recordedName() { return "bitsandbytes.optim.adamw.AdamW8bit"; }

    @Override public double stateBytesPerElement() { return STATE_BYTES_PER_ELEMENT; }

    @Override public long steps() { return step; }

    @Override public Tensor[] moments(String name) {
        State st = state.get(name);
        if (st == null) return null;
        if (!st.eightBit()) return new Tensor[]{st.m, st.v};
        long[] shape = st.param.sizes().vec().get();
        return new Tensor[]{dequantize(st.q1, st.absmax1, signedCode, shape), dequantize(st.q2, st.absmax2, unsignedCode, shape)};
    }

    @Override public void restore(long steps, Map<String, Tensor[]> moments) {
        if (steps < 0) throw new IllegalArgumentException("optimizer step count must be >= 0, got " + steps);
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (var e : state.entrySet()) {
                Tensor[] m = moments.get(e.getKey());
                if (m == null) throw new IllegalArgumentException("the saved optimizer state has no moments for " + e.getKey());
                store(e.getValue(), m[0].to(e.getValue().param.device(), ScalarType.Float), m[1].to(e.getValue().param.device(), ScalarType.Float));
            }
        }
        this.step = steps;
    }

    private void store(State st, Tensor m, Tensor v) {
        if (!st.eightBit()) {
            st.m.copy_(m.view(st.m.sizes().vec().get()));
            st.v.copy_(v.view(st.v.sizes().vec().get()));
            return;
        }
        Tensor[] q1 = quantize(m, signedCode), q2 = quantize(v, unsignedCode);
        st.q1.copy_(q1[0]);
        st.absmax1.copy_(q1[1]);
        st.q2.copy_(q2[0]);
        st.absmax2.copy_(q2[1]);
    }

    @Override public void step() {
        step++;
        double lr = settings.lr(), b1 = settings.beta1(), b2 = settings.beta2();
        double biasCorrection1 = 1 - Math.pow(b1, step);
        double biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(b2, step));
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (var e : state.entrySet()) {
                State st = e.getValue();
                Tensor grad = st.param.grad();
                if (!grad.defined()) continue;
                Tensor gf = grad.to(ScalarType.Float);
                Tensor[] mv = moments(e.getKey());
                Tensor m = st.eightBit() ? mv[0] : st.m, v = st.eightBit() ? mv[1] : st.v;     // float32, param's shape
                m.mul_(s(b1)).add_(gf, s(1 - b1));
                v.mul_(s(b2)).addcmul_(gf, gf, s(1 - b2));
                st.param.mul_(s(1 - lr * settings.weightDecay()));
                Tensor denom = v.sqrt().div(s(biasCorrection2Sqrt)).add_(s(settings.eps()));
                st.param.addcdiv_(m, denom, s(-lr / biasCorrection1));
                if (st.eightBit()) store(st, m, v);
            }
        }
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        for (State st : state.values()) for (Tensor t : st.tensors()) t.releaseReference();
        signedCode.releaseReference();
        unsignedCode.releaseReference();
    }
}
