package dev.kaze.jobs;

import dev.kaze.pipeline.WanPipeline;

import java.util.concurrent.CompletableFuture;

/**
 * Runs one claimed job of its kind on the device worker's thread and records its end in the store
 * (completed, cancelled or failed; an interrupted job is left in progress). The outcome may arrive
 * later than {@link #run} returns: a rendered video is encoded on its own thread while the next job runs.
 */
sealed interface JobRunner permits VideoJobRunner, TrainingRunner {
    /**
     * Runs the job; a {@link JobNotFoundException} (the job was deleted meanwhile) and store errors are
     * thrown or complete the outcome exceptionally.
     */
    CompletableFuture<JobOutcome> run(WanPipeline pipeline, Job job);
}
