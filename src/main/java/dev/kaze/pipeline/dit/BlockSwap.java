package dev.kaze.pipeline.dit;

import dev.kaze.tensor.Linear;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Block swap: the ten Linear weights of the last N blocks live in host memory (pinned on CUDA, in
 * place, so the model's parameter map and Linears keep pointing at them);
 * before such a block computes, its weights are copied into one of min(N, 2) device slots, and
 * while it computes the next swapped block is copied into the other slot. Every other tensor of a
 * swapped block (biases, norms, modulation) stays on the device. The host tensors are the model's
 * parameters (a LoRA merge updates them in place); every forward pass copies them afresh, so a
 * slot never serves stale weights. Copies are exact, so the output is bit-identical to no swapping.
 *
 * <p>Training with gradient checkpointing runs the blocks twice: forward in order ({@link #acquire}),
 * then, for the backward pass, in reverse order ({@link #acquireReverse}), each recomputed with
 * autograd and back-propagated before {@link #release}, while the swapped block before it is
 * copied into the other slot (musubi's block offloader does the same in its backward hooks). The
 * two slots still hold the last two swapped blocks when the forward pass ends, so the backward
 * pass starts without a copy. An adapter view ({@link #withAdapters}) shares the slots, the host
 * tensors and the transfer with the model's own swap and computes the same weights.
 */
final class BlockSwap implements AutoCloseable {
    /** The Linears of a block, by path relative to it, in the order their weights are copied. */
    static final List<String> LINEARS = List.of("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
            "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2");

    private final int first;                          // index of the first swapped block
    private final List<Tensor[]> host;                // per swapped block: its stored tensors
    private final List<WanAttentionBlock> views;      // per swapped block: computing with its slot
    private final Tensor[][] slots;                   // per slot: device tensors
    private final int[] holds;                        // per slot: the swapped block loaded into it, or -1
    private final SwapTransfer transfer;
    private final boolean owner;                      // false for an adapter view: the model's swap frees the slots

    /** The checkpoint keys kept in host memory when the last swap of numLayers blocks are swapped. */
    static Predicate<String> hostKeys(int numLayers, int swap) {
        int first = numLayers - swap;
        return key -> {
            if (!key.startsWith("blocks.")) return false;
            int dot = key.indexOf('.', 7);
            if (dot < 0) return false;
            int block;
            try { block = Integer.parseInt(key.substring(7, dot)); } catch (NumberFormatException e) { return false; }
            if (block < first) return false;
            String rest = key.substring(dot + 1);
            for (String l : LINEARS) if (rest.equals(l + ".weight") || rest.equals(l + ".scale_weight")) return true;
            return false;
        };
    }

    /** blocks: all of the model's blocks, the last swap ones built with their Linear weights on the host. */
    BlockSwap(List<WanAttentionBlock> blocks, int swap, Device device) {
        if (swap < 1 || swap > blocks.size())
            throw new IllegalArgumentException("blocks to swap must be 1.." + blocks.size() + ", got " + swap);
        this.first = blocks.size() - swap;
        this.host = new ArrayList<>();
        this.views = new ArrayList<>();
        this.owner = true;
        int n = Math.min(swap, 2);
        this.slots = new Tensor[n][];
        this.holds = new int[n];
        Arrays.fill(holds, -1);
        for (int k = 0; k < swap; k++) {
            WanAttentionBlock b = blocks.get(first + k);
            List<Tensor> stored = new ArrayList<>();
            for (Linear l : linears(b)) stored.addAll(List.of(l.storedTensors()));
            Tensor[] hostTensors = stored.toArray(Tensor[]::new);
            if (device.type().value == torch.DeviceType.CUDA.value)   // page-locked, so the copies run asynchronously
                for (Tensor t : hostTensors) if (!t.is_pinned()) t.set_(t.pin_memory());
            int slot = k % n;
            if (slots[slot] == null) {
                slots[slot] = new Tensor[hostTensors.length];
                for (int i = 0; i < hostTensors.length; i++) {
                    Tensor t = hostTensors[i];
                    slots[slot][i] = torch.empty(t.sizes().vec().get(), new TensorOptions(t.scalar_type()).device(new DeviceOptional(device)),
                            new MemoryFormatOptional());
                    slots[slot][i].retainReference();
                }
            }
            try {
                views.add(onSlot(b, slots[slot]));
            } catch (IllegalArgumentException e) {
                close();
                throw new IllegalArgumentException("cannot swap block " + (first + k) + ": its weights are laid out unlike block "
                        + (first + slot) + "'s (" + e.getMessage() + "); lower the number of blocks to swap", e);
            }
            host.add(hostTensors);
        }
        this.transfer = SwapTransfer.forDevice(device);
    }

    private BlockSwap(BlockSwap shared, List<WanAttentionBlock> views) {
        this.first = shared.first;
        this.host = shared.host;
        this.views = views;
        this.slots = shared.slots;
        this.holds = shared.holds;
        this.transfer = shared.transfer;
        this.owner = false;
    }

    /**
     * The same swap with every swapped block's slot view adapted as {@link WanAttentionBlock#withAdapters}
     * adapts a resident block (block i's Linears named "blocks.i.…"): shares this swap's slots, host tensors and
     * transfer, and frees nothing on close.
     */
    BlockSwap withAdapters(Function<String, Linear.Adapter> adapterFor) {
        List<WanAttentionBlock> adapted = new ArrayList<>();
        for (int k = 0; k < views.size(); k++) adapted.add(views.get(k).withAdapters("blocks." + (first + k) + ".", adapterFor));
        return new BlockSwap(this, adapted);
    }

    int swapped() { return host.size(); }

    private static List<Linear> linears(WanAttentionBlock b) {
        List<Linear> ls = new ArrayList<>(b.selfAttn.projections.linears());
        ls.addAll(b.crossAttn.projections.linears());
        ls.add(b.ffn0);
        ls.add(b.ffn2);
        return ls;
    }

    /** The block computing with the slot's tensors in place of its own Linear weights. */
    private static WanAttentionBlock onSlot(WanAttentionBlock b, Tensor[] slot) {
        Linear[] ls = linears(b).toArray(Linear[]::new);
        Linear[] moved = new Linear[ls.length];
        int at = 0;
        for (int i = 0; i < ls.length; i++) {
            int count = ls[i].storedTensors().length;
            moved[i] = ls[i].withStoredTensors(Arrays.copyOfRange(slot, at, at + count));
            at += count;
        }
        if (at != slot.length) throw new IllegalArgumentException("the slot holds " + slot.length + " tensors, the block keeps " + at);
        return new WanAttentionBlock(b.modulation,
                new WanSelfAttention(b.selfAttn.projections.withLinears(moved[0], moved[1], moved[2], moved[3])),
                b.norm3Weight, b.norm3Bias,
                new WanCrossAttention(b.crossAttn.projections.withLinears(moved[4], moved[5], moved[6], moved[7])),
                moved[8], moved[9], b.eps);
    }

    /** Starts a forward pass: every slot is reloaded from the host (which a LoRA merge may have changed). */
    void begin() {
        Arrays.fill(holds, -1);
        if (first > 0) return;             // the first block is swapped: loaded when it is acquired
        load(0);
    }

    /**
     * The block to compute as block i: itself when resident; for a swapped block, its slot view,
     * once the computation is ordered after its copy. Queues the copy of the next swapped block.
     */
    WanAttentionBlock acquire(int i, WanAttentionBlock resident) {
        if (i == first - 1) load(0);      // prefetch the first swapped block while the last resident one computes
        if (i < first) return resident;
        int k = i - first, slot = k % slots.length;
        if (holds[slot] != k) load(k);
        transfer.awaitLoad(slot);
        if (slots.length > 1 && k + 1 < host.size()) load(k + 1);
        return views.get(k);
    }

    /**
     * {@link #acquire} for the backward pass of gradient checkpointing, which visits the blocks from
     * the last to the first: queues the copy of the swapped block before i instead of the one after.
     * Call {@link #release} once block i's recomputation and its backward are queued.
     */
    WanAttentionBlock acquireReverse(int i, WanAttentionBlock resident) {
        if (i < first) return resident;
        int k = i - first, slot = k % slots.length;
        if (holds[slot] != k) load(k);
        transfer.awaitLoad(slot);
        if (slots.length > 1 && k > 0) load(k - 1);
        return views.get(k);
    }

    /** Block i's computation is queued: its slot may be overwritten after it. */
    void release(int i) {
        if (i >= first) transfer.computed((i - first) % slots.length);
    }

    private void load(int k) {
        int slot = k % slots.length;
        if (holds[slot] == k) return;
        transfer.load(slot, host.get(k), slots[slot]);
        holds[slot] = k;
    }

    private boolean closed;

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (!owner) return;
        if (transfer != null) transfer.close();
        for (Tensor[] slot : slots) if (slot != null) for (Tensor t : slot) if (t != null) t.releaseReference();
    }
}
