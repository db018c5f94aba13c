package dev.kaze.pipeline.dit;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Floating-point operations of one DiT forward, counted analytically from the configuration and the
 * latent shape (2 FLOPs per multiply-add; norms, RoPE, modulation, GELU and NAG's element-wise
 * arithmetic are not counted, they are O(L·C) against the O(L·C²) and O(L²·C) terms below).
 * <ul>
 *   <li>patch embedding: 2·L·C·(in_dim·pt·ph·pw);</li>
 *   <li>per block: self-attention q, k, v, o: 4 · 2·L·C²; self-attention QKᵀ and AV: 4·L²·C;
 *       cross-attention q and o: 2 · 2·L·C²; its k and v over each context: 2 · 2·Lc·C²;
 *       its QKᵀ and AV over each context: 4·L·Lc·C (with NAG there are two contexts, positive and
 *       negative, sharing the queries); FFN: 2 · 2·L·C·ffn_dim;</li>
 *   <li>time embedding and projection: 2·(freq·C + C² + 6·C²) per sample;</li>
 *   <li>head: 2·L·C·(pt·ph·pw·out_dim).</li>
 * </ul>
 * The text embedding (2·Lc·(text_dim·C + C²) per prompt) runs once per request, not per step: see
 * {@link #textEmbedding}. L = (F/pt)·(H/ph)·(W/pw) tokens for a latent [in_dim, F, H, W]; Lc = text_len.
 */
public record DitFlops(DitConfig config, long tokens, int contexts) {

    /** Counts for a latent of f × h × w (latent frames and pixels) with NAG's second context when nag is on. */
    public static DitFlops of(DitConfig cfg, long latentFrames, long latentHeight, long latentWidth, boolean nag) {
        int[] p = cfg.patchSize();
        long l = (latentFrames / p[0]) * (latentHeight / p[1]) * (latentWidth / p[2]);
        return new DitFlops(cfg, l, nag ? 2 : 1);
    }

    private double c() { return config.dim(); }

    private double lc() { return config.textLen(); }

    public double patchEmbed() {
        int[] p = config.patchSize();
        return 2.0 * tokens * c() * config.inDim() * p[0] * p[1] * p[2];
    }

    public double selfProjections() { return 4 * 2.0 * tokens * c() * c(); }

    /** QKᵀ and AV of the self-attention: 4·L²·C. */
    public double selfAttention() { return 4.0 * tokens * tokens * c(); }

    public double crossProjections() { return 2 * 2.0 * tokens * c() * c() + contexts * 2 * 2.0 * lc() * c() * c(); }

    public double crossAttention() { return contexts * 4.0 * tokens * lc() * c(); }

    public double ffn() { return 2 * 2.0 * tokens * c() * config.ffnDim(); }

    public double block() { return selfProjections() + selfAttention() + crossProjections() + crossAttention() + ffn(); }

    public double timeEmbedding() { return 2.0 * (config.freqDim() * c() + c() * c() + 6 * c() * c()); }

    public double head() { return 2.0 * tokens * c() * config.patchFeatures(); }

    /** One DiT forward (one denoising step's single pass). */
    public double forward() { return patchEmbed() + timeEmbedding() + config.numLayers() * block() + head(); }

    /** The text embedding of one prompt (once per request). */
    public double textEmbedding() { return 2.0 * lc() * (config.textDim() * c() + c() * c()); }

    /** The terms of one forward by name, in FLOPs. */
    public Map<String, Double> terms() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("patch_embedding", patchEmbed());
        m.put("time_embedding", timeEmbedding());
        m.put("blocks.self_attn.qkvo", config.numLayers() * selfProjections());
        m.put("blocks.self_attn.sdpa", config.numLayers() * selfAttention());
        m.put("blocks.cross_attn.qkvo", config.numLayers() * crossProjections());
        m.put("blocks.cross_attn.sdpa", config.numLayers() * crossAttention());
        m.put("blocks.ffn", config.numLayers() * ffn());
        m.put("head", head());
        return m;
    }
}
