package dev.kaze.api;

import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * One size limit for every request body, whatever reads it (the JSON reader, the multipart and
 * form codecs): a declared Content-Length over the limit is answered 413 before a byte of the body
 * is read; a chunked body fails with 413 as soon as it passes the limit.
 */
public final class BodyLimitFilter implements WebFilter, Ordered {
    private final long maxBytes;
    private final Map<String, Upload> uploads;
    private final ProblemWriter problems;

    /** A path whose POST body streams to disk, with its own limit and the property that sets it. */
    public record Upload(String path, long maxBytes, String what, String property) {}

    public BodyLimitFilter(long maxBytes, ProblemWriter problems) { this(maxBytes, List.of(), problems); }

    /** uploads: the paths ({@code POST /v1/loras}, {@code POST /v1/trainings}) whose files stream to disk. */
    public BodyLimitFilter(long maxBytes, List<Upload> uploads, ProblemWriter problems) {
        this.maxBytes = maxBytes;
        this.uploads = uploads.stream().collect(Collectors.toUnmodifiableMap(Upload::path, u -> u));
        this.problems = problems;
    }

    /** The upload limit of this request's path, or null when the request is not an upload. */
    private Upload upload(ServerWebExchange exchange) {
        if (exchange.getRequest().getMethod() != HttpMethod.POST) return null;
        return uploads.get(exchange.getRequest().getPath().pathWithinApplication().value());
    }

    @Override public int getOrder() { return -200; }

    static ApiException tooLarge(long maxBytes) {
        return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large",
                "the body is larger than " + maxBytes + " bytes; a video request is a small JSON object");
    }

    static ApiException uploadTooLarge(Upload u) {
        return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large",
                "the upload is larger than " + u.maxBytes() + " bytes, this server's limit for " + u.what() + " (" + u.property() + ")");
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        Upload upload = upload(exchange);
        long maxBytes = upload != null ? upload.maxBytes() : this.maxBytes;
        long declared = exchange.getRequest().getHeaders().getContentLength();
        if (declared > maxBytes) return problems.write(exchange, upload != null ? uploadTooLarge(upload) : tooLarge(maxBytes));
        AtomicLong seen = new AtomicLong();
        ServerHttpRequestDecorator limited = new ServerHttpRequestDecorator(exchange.getRequest()) {
            @Override
            public Flux<DataBuffer> getBody() {
                return super.getBody().map(buffer -> {
                    if (seen.addAndGet(buffer.readableByteCount()) > maxBytes) {
                        DataBufferUtils.release(buffer);
                        throw new DataBufferLimitException("the body is larger than " + maxBytes + " bytes");
                    }
                    return buffer;
                });
            }
        };
        return chain.filter(exchange.mutate().request(limited).build());
    }
}
