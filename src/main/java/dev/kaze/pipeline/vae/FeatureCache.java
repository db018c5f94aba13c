// Port of wan/modules/vae.py, the feat_cache / feat_idx lists of WanVAE_.encode/decode (CACHE_T = 2)
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Tensor;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The frames each causal layer saw last, carried from one chunk of an encode or decode to the
 * next. The reference keeps them in a flat list indexed in call order; here each layer asks for
 * its own {@link Frames} by identity. One instance serves one encode or decode call; closing it
 * frees every frame it holds. Kept tensors are owned by this object (their reference count is
 * raised), so they outlive the per-chunk pointer scopes.
 */
final class FeatureCache implements AutoCloseable {
    /** How many input frames a temporal kernel of 3 needs from the previous chunk. */
    static final int CACHE_T = 2;

    private final Map<Object, Frames> slots = new IdentityHashMap<>();

    /** The cache slot of one layer, created empty on first use. */
    Frames of(Object layer) {
        return slots.computeIfAbsent(layer, k -> new Frames());
    }

    @Override
    public void close() {
        slots.values().forEach(Frames::clear);
        slots.clear();
    }

    /**
     * One layer's cache: empty (the reference's None), the marker 'Rep' (upsample3d after its
     * first chunk: the next chunk gets zero padding), or the frames kept.
     */
    static final class Frames {
        private Tensor frames;
        private boolean rep;

        boolean isEmpty() { return frames == null && !rep; }

        boolean isRep() { return rep; }

        /** The frames kept, or null when empty or 'Rep'. */
        Tensor frames() { return frames; }

        void markRep() {
            clear();
            rep = true;
        }

        /** Keeps t (which should own its storage, e.g. a clone) in place of what was kept. */
        void set(Tensor t) {
            t.retainReference();
            Tensor old = frames;
            frames = t;
            rep = false;
            if (old != null) old.releaseReference();
        }

        void clear() {
            if (frames != null) frames.releaseReference();
            frames = null;
            rep = false;
        }
    }
}
