package dev.kaze.tensor;

import java.util.Arrays;

/** Element type and shape of one stored tensor. */
public record TensorSpec(DType dtype, long[] shape) {
    public TensorSpec {
        shape = shape.clone();
    }

    @Override public long[] shape() { return shape.clone(); }

    public long numel() {
        long n = 1;
        for (long s : shape) n = Math.multiplyExact(n, s);
        return n;
    }

    public long byteSize() { return Math.multiplyExact(numel(), (long) dtype.size()); }

    public boolean hasShape(long... expected) { return Arrays.equals(shape, expected); }

    public static String format(long[] shape) { return Arrays.toString(shape); }

    @Override public boolean equals(Object o) {
        return o instanceof TensorSpec(DType d, long[] s) && d == dtype && Arrays.equals(s, shape);
    }

    @Override public int hashCode() { return 31 * dtype.hashCode() + Arrays.hashCode(shape); }

    @Override public String toString() { return dtype.code() + format(shape); }
}
