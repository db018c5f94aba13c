package dev.kaze.jobs;

import java.util.List;

/** One page of {@link JobStore#list}; {@code nextCursor} is null on the last page. */
public record JobPage(List<Job> jobs, String nextCursor) {
    public JobPage {
        jobs = List.copyOf(jobs);
    }
}
