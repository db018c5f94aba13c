package dev.kaze.tensor;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * How a model keeps its large Linear weights: in the compute dtype, or as float8 values plus
 * float32 scales (W ≈ q · scale) that are upcast to the compute dtype at every use. Float8 halves
 * the memory of bfloat16 weights at the cost of quantisation error.
 *
 * @param format  the element type the weights are kept in
 * @param scaling how scales are laid out when bf16/f32 weights are quantised on load (weights
 *                that a checkpoint already stores as float8 keep the checkpoint's own scales)
 * @param matmul  how a float8 Linear multiplies: upcast the weight (always), or a float8 matmul
 *                where the device and the layer allow it ({@link Matmul#SCALED_MM})
 */
public record WeightStorage(Format format, Scaling scaling, Matmul matmul) {
    /** Weights in the compute dtype, as read (no float8). */
    public static final WeightStorage COMPUTE = new WeightStorage(Format.COMPUTE, new Scaling.PerTensor());

    public WeightStorage {
        if (format == null || scaling == null || matmul == null)
            throw new IllegalArgumentException("format, scaling and matmul are required");
    }

    public WeightStorage(Format format, Scaling scaling) { this(format, scaling, Matmul.UPCAST); }

    /** The same storage multiplying as matmul says. */
    public WeightStorage withMatmul(Matmul matmul) { return new WeightStorage(format, scaling, matmul); }

    /** How a float8 Linear computes x Wᵀ. */
    public enum Matmul {
        /** W = q · scale upcast to the compute dtype at every forward, then a compute-dtype matmul. */
        UPCAST,
        /**
         * aten::_scaled_mm: the input quantised to e4m3 with one scale max|x|/448, multiplied with
         * the float8 values, output in the compute dtype. Used where {@link ScaledMm#usable} holds
         * (e4m3 weights with one scale, sizes multiples of 16, no gradient, a CPU or a CUDA device
         * of compute capability ≥ 8.9); elsewhere UPCAST.
         */
        SCALED_MM
    }

    /** float8 with one scale per weight tensor. */
    public static WeightStorage perTensor(Format format) { return new WeightStorage(format, new Scaling.PerTensor()); }

    /** float8 with one scale per blockSize consecutive input columns of each output row. */
    public static WeightStorage blockwise(Format format, int blockSize) {
        return new WeightStorage(format, new Scaling.Blockwise(blockSize));
    }

    public boolean isFloat8() { return format != Format.COMPUTE; }

    public enum Format {
        COMPUTE(null, 0),
        /** float8 e4m3fn (range ±448, 3 mantissa bits). */
        FP8_E4M3(ScalarType.Float8_e4m3fn, 448.0),
        /** float8 e5m2 (range ±57344, 2 mantissa bits). */
        FP8_E5M2(ScalarType.Float8_e5m2, 57344.0);

        private final ScalarType scalarType;
        private final double max;

        Format(ScalarType scalarType, double max) {
            this.scalarType = scalarType;
            this.max = max;
        }

        /** The libtorch float8 type; null for COMPUTE. */
        public ScalarType scalarType() { return scalarType; }

        /** The largest finite value of the float8 type. */
        public double max() { return max; }

        /** The float8 format of a libtorch type, or null when the type is not float8. */
        public static Format of(ScalarType type) {
            for (Format f : values()) if (f.scalarType != null && Ops.same(f.scalarType, type)) return f;
            return null;
        }
    }

    /** Scale layout for weights quantised on load. */
    public sealed interface Scaling {
        /** scale = max|W| / fp8max, one float32 scalar. */
        record PerTensor() implements Scaling {}

        /**
         * scale[o, b] = max|W[o, b·blockSize .. (b+1)·blockSize)| / fp8max, stored [out, in/blockSize, 1]
         * (musubi-tuner's fp8_scaled block layout). A weight whose input size is not a multiple of
         * blockSize falls back to a per-tensor scale.
         */
        record Blockwise(int blockSize) implements Scaling {
            public Blockwise {
                if (blockSize < 1) throw new IllegalArgumentException("block size must be positive, got " + blockSize);
            }
        }
    }
}
