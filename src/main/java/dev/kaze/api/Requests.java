package dev.kaze.api;

import dev.kaze.jobs.JobNotFoundException;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/** What every controller reads from a request the same way: job ids, single query parameters, list paging; and blocking work off the event loop. */
final class Requests {
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final Pattern CURSOR = Pattern.compile("[A-Za-z0-9_=-]{1,256}");

    private Requests() {}

    /** Runs blocking work (the store, files) on the bounded elastic scheduler. */
    static <T> Mono<T> blocking(Callable<T> call) {
        return Mono.fromCallable(call).subscribeOn(Schedulers.boundedElastic());
    }

    /** A job id as it appears in a path; anything else cannot name a job (404). */
    static String checkId(String id) {
        if (!ID.matcher(id).matches()) throw new JobNotFoundException(id.length() > 64 ? id.substring(0, 64) : id);
        return id;
    }

    /** A query parameter given at most once (absent: null; {@code ?name} without a value: ""). */
    static String single(ServerWebExchange exchange, String name) {
        List<String> values = exchange.getRequest().getQueryParams().get(name);
        if (values == null || values.isEmpty()) return null;
        if (values.size() > 1) throw ValidationException.of(name, "given more than once");
        return values.getFirst() == null ? "" : values.getFirst();
    }

    /** A list's {@code limit}: 1 to 100, 20 when absent. */
    static int limit(String limit) {
        if (limit == null) return 20;
        int n = limit.matches("[0-9]{1,3}") ? Integer.parseInt(limit) : -1;
        if (n < 1 || n > 100) throw ValidationException.of("limit", "must be an integer between 1 and 100");
        return n;
    }

    /** A list's {@code after}: absent, or shaped like a job id or a cursor this server gives; {@code jobs} names what is listed. */
    static String after(String after, String jobs) {
        if (after != null && !CURSOR.matcher(after).matches()) throw badAfter(jobs);
        return after;
    }

    /** An {@code after} that is neither one of the caller's job ids nor a cursor this server gave. */
    static ValidationException badAfter(String jobs) {
        return ValidationException.of("after", "is neither the id of one of your " + jobs + " nor a cursor this server gave");
    }
}
