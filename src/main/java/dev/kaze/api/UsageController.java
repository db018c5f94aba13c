package dev.kaze.api;

import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.OwnerUsage;
import dev.kaze.json.Json;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.time.Clock;

/**
 * {@code GET /v1/usage?from=&to=}: the device seconds of the caller's jobs (their API key) whose usage was recorded
 * in the range, in all and per stage. There is no admin role, so a caller sees their own key only.
 */
@RestController
public class UsageController {
    static final String PATH = "/v1/usage";

    private final JobQueue queue;

    public UsageController(JobQueue queue) {
        this.queue = queue;
    }

    @GetMapping(PATH)
    public Mono<ObjectNode> usage(ServerWebExchange exchange, @RequestParam(required = false) String from,
                                  @RequestParam(required = false) String to) {
        Caller caller = Caller.of(exchange);
        UsageRange range = UsageRange.parse(from, to, Clock.systemUTC());
        return Requests.blocking(() -> {
            ObjectNode n = Json.MAPPER.createObjectNode();
            n.put("object", "usage");
            n.put("from", range.from().toString());
            n.put("to", range.to().toString());
            ArrayNode data = n.putArray("data");
            for (OwnerUsage u : queue.store().usageByOwner(caller.owner(), range.from(), range.to())) {
                ObjectNode row = data.addObject();
                row.put("api_key", u.owner());
                row.put("jobs", u.jobs());
                row.put("device_seconds", UsageView.round(u.deviceSeconds()));
                row.set("stages", UsageView.seconds(u.stageSeconds()));
            }
            return n;
        });
    }
}
