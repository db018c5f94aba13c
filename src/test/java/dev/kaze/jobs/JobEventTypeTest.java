package dev.kaze.jobs;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The one list of event types: wire names, what ends a log, what webhooks can ask for; and the problem JSON of a failed job. */
class JobEventTypeTest {
    @Test
    void webhookEventsAreListedInLifecycleOrder() {
        assertThat(JobEventType.webhookNames())
                .containsExactly("queued", "started", "progress", "checkpoint", "sample", "preview", "completed", "failed", "cancelled");
        assertThat(JobEventType.webhookNames(JobKind.TRAINING))
                .containsExactly("queued", "started", "progress", "checkpoint", "sample", "completed", "failed", "cancelled");
        assertThat(JobEventType.webhookNames(JobKind.VIDEO))
                .containsExactly("queued", "started", "progress", "preview", "completed", "failed", "cancelled");
        assertThat(JobEventType.defaultWebhookNames())
                .containsExactlyInAnyOrder("queued", "started", "completed", "failed", "cancelled");
    }

    @Test
    void wireNamesAreUniqueAndFoundAgain() {
        for (JobEventType t : JobEventType.values()) assertThat(JobEventType.of(t.wireName())).contains(t);
        assertThat(JobEventType.of("cancel_requested")).contains(JobEventType.CANCEL_REQUESTED);
        assertThat(JobEventType.of("finished")).isEmpty();
        assertThat(JobEventType.RESUMED.webhook()).isFalse();
    }

    @Test
    void onlyCompletedFailedAndCancelledEndALog() {
        assertThat(JobEventType.isTerminal("completed")).isTrue();
        assertThat(JobEventType.isTerminal("failed")).isTrue();
        assertThat(JobEventType.isTerminal("cancelled")).isTrue();
        assertThat(JobEventType.isTerminal("cancel_requested")).isFalse();
        assertThat(JobEventType.isTerminal("progress")).isFalse();
        assertThat(JobEventType.isTerminal("preview")).isFalse();
    }

    @Test
    void aFailedJobKeepsAProblemWithAStableType() {
        assertThat(ProblemTypes.failure("generation-failed", "Generation failed", 500, "out of memory"))
                .isEqualTo("{\"type\":\"https://kaze.dev/problems/generation-failed\",\"title\":\"Generation failed\","
                        + "\"status\":500,\"detail\":\"out of memory\"}");
        assertThat(ProblemTypes.failure("invalid-dataset", "The dataset cannot be used", 422, null))
                .contains("\"status\":422").contains("\"detail\":\"The dataset cannot be used\"");
        assertThat(ProblemTypes.uri("queue-full")).hasToString("https://kaze.dev/problems/queue-full");
    }
}
