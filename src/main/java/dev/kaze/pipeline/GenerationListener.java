package dev.kaze.pipeline;

/** Progress of one generation: the stage it entered, and every denoising step. */
public interface GenerationListener extends StepListener {
    enum Stage { TEXT, DENOISE, DECODE }

    GenerationListener NONE = new GenerationListener() {
        @Override public void onStage(Stage stage) {}
        @Override public void onStep(int step, int total, double seconds) {}
    };

    void onStage(Stage stage);
}
