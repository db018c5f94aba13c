package dev.kaze.jobs;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class JobPreviewsTest {
    @Test
    void atMostOnePreviewPerIntervalButAlwaysTheLastStep() {
        AtomicLong now = new AtomicLong(0);
        try (JobPreviews p = new JobPreviews(null, null, "vid_x", Duration.ofSeconds(1), 16, now::get)) {
            assertThat(p.due(1, 10)).as("the first step").isTrue();
            now.set(400_000_000L);
            assertThat(p.due(2, 10)).as("0.4 s later").isFalse();
            now.set(999_999_999L);
            assertThat(p.due(3, 10)).as("just under 1 s later").isFalse();
            now.set(1_000_000_000L);
            assertThat(p.due(4, 10)).as("1 s after the first").isTrue();
            now.set(1_100_000_000L);
            assertThat(p.due(5, 10)).isFalse();
            assertThat(p.due(10, 10)).as("the last step, 0.1 s after a preview").isTrue();
        }
    }

    @Test
    void aZeroIntervalPreviewsEveryStep() {
        try (JobPreviews p = new JobPreviews(null, null, "vid_x", Duration.ZERO, 16, () -> 5L)) {
            for (int s = 1; s <= 4; s++) assertThat(p.due(s, 4)).isTrue();
        }
    }
}
