package dev.kaze.jobs;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one job used of the device: seconds per stage (videos: text, denoise, decode, encode; trainings: prepare,
 * train, sample, save), the peak device memory, and the identities of the model and LoRAs it ran with.
 *
 * @param stageSeconds       seconds per stage, in the order the stages ran; a resumed job adds up its runs
 * @param peakMemoryBytes    the peak memory of the job's runs, or null where it could not be measured
 * @param peakMemorySource   how {@code peakMemoryBytes} was measured: {@link #CUDA_ALLOCATOR} (libtorch's CUDA
 *                           caching allocator, peak allocated bytes since the job started) or {@link #PROCESS_RSS}
 *                           (on the CPU: how far the process's peak resident set rose above its size at the start)
 * @param model              the model's identity ({@code id}, and a cheap file identity where known)
 * @param loras              LoRA name to SHA-256 of its file
 */
public record JobUsage(Map<String, Double> stageSeconds, Long peakMemoryBytes, String peakMemorySource, String model,
                       Map<String, String> loras) {
    public static final String CUDA_ALLOCATOR = "cuda_allocator";
    public static final String PROCESS_RSS = "process_rss";

    public JobUsage {
        stageSeconds = unmodifiable(stageSeconds);
        loras = loras == null ? Map.of() : unmodifiable(loras);
        for (var e : stageSeconds.entrySet()) {
            if (!(e.getValue() >= 0)) throw new IllegalArgumentException("stage " + e.getKey() + " has " + e.getValue() + " seconds");
        }
    }

    private static <V> Map<String, V> unmodifiable(Map<String, V> m) {
        return Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }

    /** Seconds over all stages. */
    public double deviceSeconds() {
        return stageSeconds.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    /** This usage and a later run's of the same job: seconds added per stage, the larger peak, the later identities. */
    public JobUsage plus(JobUsage later) {
        Map<String, Double> sum = new LinkedHashMap<>(stageSeconds);
        later.stageSeconds.forEach((k, v) -> sum.merge(k, v, Double::sum));
        Long peak = peakMemoryBytes == null ? later.peakMemoryBytes
                : later.peakMemoryBytes == null ? peakMemoryBytes : Math.max(peakMemoryBytes, later.peakMemoryBytes);
        String source = later.peakMemoryBytes != null ? later.peakMemorySource : peakMemorySource;
        return new JobUsage(sum, peak, source, later.model != null ? later.model : model,
                later.loras.isEmpty() ? loras : later.loras);
    }
}
