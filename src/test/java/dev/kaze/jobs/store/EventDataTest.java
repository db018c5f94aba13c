package dev.kaze.jobs.store;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The data of the store's own events, as clients and webhooks receive it. */
class EventDataTest {
    @Test
    void statusEventsCarryTheirFields() {
        assertThat(EventData.queued(5)).isEqualTo("{\"status\":\"QUEUED\",\"priority\":5}");
        assertThat(EventData.started("gpu-0 \"a\"")).isEqualTo("{\"status\":\"IN_PROGRESS\",\"worker_id\":\"gpu-0 \\\"a\\\"\"}");
        assertThat(EventData.completed()).isEqualTo("{\"status\":\"COMPLETED\"}");
        assertThat(EventData.cancelled()).isEqualTo("{\"status\":\"CANCELLED\"}");
        assertThat(EventData.cancelRequested()).isEqualTo("{\"cancel_requested\":true}");
        assertThat(EventData.requeued("w-1")).isEqualTo("{\"status\":\"QUEUED\",\"previous_worker_id\":\"w-1\"}");
        assertThat(EventData.requeued(null)).isEqualTo("{\"status\":\"QUEUED\",\"previous_worker_id\":null}");
    }

    @Test
    void aStructuredErrorIsEmbeddedAndAnyOtherIsAString() {
        assertThat(EventData.failed(null)).isEqualTo("{\"status\":\"FAILED\"}");
        assertThat(EventData.failed(" {\"type\":\"https://kaze.dev/problems/oom\",\"status\":500} "))
                .isEqualTo("{\"status\":\"FAILED\",\"error\":{\"type\":\"https://kaze.dev/problems/oom\",\"status\":500}}");
        assertThat(EventData.failed("[1,2]")).isEqualTo("{\"status\":\"FAILED\",\"error\":[1,2]}");
        assertThat(EventData.failed("disk \"full\"\n")).isEqualTo("{\"status\":\"FAILED\",\"error\":\"disk \\\"full\\\"\\n\"}");
        assertThat(EventData.failed("{not json}")).isEqualTo("{\"status\":\"FAILED\",\"error\":\"{not json}\"}");
    }
}
