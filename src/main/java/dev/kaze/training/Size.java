package dev.kaze.training;

/** A width × height in pixels (musubi's {@code (W, H)} tuples: width first). */
public record Size(int width, int height) {
    public Size {
        if (width < 1 || height < 1)
            throw new IllegalArgumentException("size must be positive, got " + width + "x" + height + " (width x height)");
    }

    public long area() {
        return (long) width * height;
    }

    @Override
    public String toString() {
        return width + "x" + height;
    }
}
