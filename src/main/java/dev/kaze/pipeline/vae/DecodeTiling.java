package dev.kaze.pipeline.vae;

import java.util.ArrayList;
import java.util.List;

/**
 * Spatial tiling of a VAE decode: square tiles of {@code tile} latent pixels, neighbours overlapping
 * by {@code overlap} latent pixels (the last tile of a row or column is moved back to end at the
 * edge, so it may overlap more). Every tile is decoded on its own (its own causal caches), and the
 * decoded tiles are blended with weights that ramp linearly across each overlap and are normalised
 * by their sum, so seams fade instead of showing a step. Tiles see zero padding at their own
 * edges, so a tiled decode is close to, not equal to, an untiled one.
 */
public record DecodeTiling(int tile, int overlap) {
    public DecodeTiling {
        if (tile < 1 || overlap < 0 || overlap >= tile)
            throw new IllegalArgumentException("decode tiles need tile >= 1 and 0 <= overlap < tile, got tile " + tile + ", overlap " + overlap);
    }

    /** A tile of this many latent pixels with a quarter of it overlapping (diffusers' 256 px / 64 px at tile 32). */
    public static DecodeTiling of(int tile) { return new DecodeTiling(tile, tile / 4); }

    /** Whether a latent of h × w needs more than one tile. */
    public boolean splits(long h, long w) { return h > tile || w > tile; }

    /** The start of every tile along an axis of size latent pixels; each tile spans min(tile, size). */
    public List<Long> starts(long size) {
        List<Long> starts = new ArrayList<>();
        long stride = tile - overlap;
        long s = 0;
        while (s + tile < size) {
            starts.add(s);
            s += stride;
        }
        starts.add(Math.max(0, size - tile));
        return starts;
    }

    /**
     * The blend weights along one axis of tile j (starts from {@link #starts}), scale output pixels
     * per latent pixel: 1 inside, (p + ½)/o rising across the overlap o with the previous tile,
     * falling likewise across the overlap with the next one. Never zero.
     */
    public float[] axisWeights(List<Long> starts, int j, long size, int scale) {
        long len = Math.min(tile, size) * scale, start = starts.get(j) * scale;
        long left = j > 0 ? starts.get(j - 1) * scale + len - start : 0;
        long right = j + 1 < starts.size() ? start + len - starts.get(j + 1) * scale : 0;
        float[] w = new float[(int) len];
        for (int p = 0; p < len; p++) {
            double r = 1;
            if (p < left) r *= (p + 0.5) / left;
            if (p >= len - right) r *= (len - p - 0.5) / right;
            w[p] = (float) r;
        }
        return w;
    }
}
