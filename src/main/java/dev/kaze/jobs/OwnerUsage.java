package dev.kaze.jobs;

import java.util.Map;

/**
 * One owner's (API key's) usage over a time range: the jobs whose usage was recorded in it and their device seconds,
 * in all and per stage.
 */
public record OwnerUsage(String owner, long jobs, double deviceSeconds, Map<String, Double> stageSeconds) {
    public OwnerUsage {
        stageSeconds = Map.copyOf(stageSeconds);
    }
}
