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
 * {@code GET /v1/usage?from=&to=&api_key=}: the device seconds of the jobs whose usage was recorded in the range, in
 * all and per stage, a row per API key. A caller sees their own key; an admin key (the operator's, for billing and
 * planning) may name another key's id, or {@code all} for a row per key.
 */
@RestController
public class UsageController {
    static final String PATH = "/v1/usage";
    /** The api_key value that asks for every key's row. */
    static final String ALL = "all";

    private final JobQueue queue;

    public UsageController(JobQueue queue) {
        this.queue = queue;
    }

    @GetMapping(PATH)
    public Mono<ObjectNode> usage(ServerWebExchange exchange, @RequestParam(required = false) String from,
                                  @RequestParam(required = false) String to,
                                  @RequestParam(name = "api_key", required = false) String apiKey) {
        Caller caller = Caller.of(exchange);
        UsageRange range = UsageRange.parse(from, to, Clock.systemUTC());
        String owner = apiKey == null || apiKey.equals(caller.owner()) ? caller.owner() : apiKey;
        if (!owner.equals(caller.owner())) {
            if (owner.isBlank() || owner.length() > 200)
                throw ValidationException.of("api_key", "must be an API key's id, or all (admin keys only)");
            ApiKeyFilter.requireAdmin(exchange, "usage of api_key '" + FieldError.clip(ProblemWriter.clean(owner), 60) + "'");
        }
        String selected = owner.equals(ALL) && !caller.owner().equals(ALL) ? null : owner;
        return Requests.blocking(() -> {
            ObjectNode n = Json.MAPPER.createObjectNode();
            n.put("object", "usage");
            n.put("from", range.from().toString());
            n.put("to", range.to().toString());
            ArrayNode data = n.putArray("data");
            for (OwnerUsage u : queue.store().usageByOwner(selected, range.from(), range.to())) {
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
