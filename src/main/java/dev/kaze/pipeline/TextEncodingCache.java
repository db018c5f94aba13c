package dev.kaze.pipeline;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The trimmed umT5 outputs of recently used prompts, least recently used first out, bounded by
 * entries and by bytes, so a prompt used by every job (the recipe's long negative prompt) is
 * encoded once. Keyed by the model id and the cleaned prompt text. The cache owns one reference
 * to each tensor it keeps, released on eviction and on {@link #close()}; {@link #get} hands out a
 * new handle on the same storage in the caller's pointer scope, which keeps the storage alive even
 * if the entry is evicted meanwhile (callers must not modify it in place).
 */
final class TextEncodingCache implements AutoCloseable {
    record Key(String modelId, String cleanedPrompt) {}

    private final int maxEntries;
    private final long maxBytes;
    private final LinkedHashMap<Key, Tensor> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long encoderRuns;

    TextEncodingCache(int maxEntries, long maxBytes) {
        if (maxEntries < 0 || maxBytes < 0) throw new IllegalArgumentException("cache bounds must not be negative");
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
    }

    /** The cached output for key, or encode's result (kept when it fits the bounds); a new handle in the caller's scope. */
    synchronized Tensor get(Key key, Supplier<Tensor> encode) {
        Tensor kept = entries.get(key);
        if (kept == null) {
            encoderRuns++;
            try (PointerScope scope = new PointerScope()) {
                kept = encode.get();
                kept.retainReference();                 // outlives the scope: the cache's reference
            }
            long size = kept.nbytes();
            if (size > maxBytes || maxEntries == 0) {
                Tensor handed = kept.detach();          // in the caller's scope, shares the storage
                kept.releaseReference();
                return handed;
            }
            entries.put(key, kept);
            bytes += size;
            evict();
        }
        return kept.detach();                           // [L, dim], same storage, the caller's handle
    }

    private void evict() {
        Iterator<Map.Entry<Key, Tensor>> it = entries.entrySet().iterator();
        while ((entries.size() > maxEntries || bytes > maxBytes) && it.hasNext()) {
            Tensor t = it.next().getValue();
            it.remove();
            bytes -= t.nbytes();
            t.releaseReference();
        }
    }

    /** How many prompts had to be encoded (cache misses) so far. */
    synchronized long encoderRuns() { return encoderRuns; }

    synchronized int size() { return entries.size(); }

    synchronized long bytes() { return bytes; }

    /** Releases every cached tensor; the cache stays usable (empty). */
    @Override public synchronized void close() {
        for (Tensor t : entries.values()) t.releaseReference();
        entries.clear();
        bytes = 0;
    }
}
