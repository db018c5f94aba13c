package dev.kaze.pipeline;

/** Thrown between denoising steps when the caller asked to stop; no partial result is kept. */
public class CancelledException extends RuntimeException {
    private final int completedSteps;

    public CancelledException(int completedSteps) {
        super("cancelled after " + completedSteps + " denoising step(s)");
        this.completedSteps = completedSteps;
    }

    public int completedSteps() { return completedSteps; }
}
