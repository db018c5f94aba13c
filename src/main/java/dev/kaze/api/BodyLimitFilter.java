package dev.kaze.api;

import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One size limit for every request body, whatever reads it (the JSON reader, the multipart and
 * form codecs): a declared Content-Length over the limit is answered 413 before a byte of the body
 * is read; a chunked body fails with 413 as soon as it passes the limit.
 */
public final class BodyLimitFilter implements WebFilter, Ordered {
    private final long maxBytes;
    private final long uploadMaxBytes;
    private final ProblemWriter problems;

    public BodyLimitFilter(long maxBytes, ProblemWriter problems) { this(maxBytes, maxBytes, problems); }

    /** uploadMaxBytes: the limit for LoRA uploads ({@code POST /v1/loras}), which stream to disk. */
    public BodyLimitFilter(long maxBytes, long uploadMaxBytes, ProblemWriter problems) {
        this.maxBytes = maxBytes;
        this.uploadMaxBytes = uploadMaxBytes;
        this.problems = problems;
    }

    static boolean isUpload(ServerWebExchange exchange) {
        return exchange.getRequest().getMethod() == org.springframework.http.HttpMethod.POST
                && exchange.getRequest().getPath().pathWithinApplication().value().equals(LoraController.PATH);
    }

    @Override public int getOrder() { return -200; }

    static ApiException tooLarge(long maxBytes) {
        return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large",
                "the body is larger than " + maxBytes + " bytes; a video request is a small JSON object");
    }

    static ApiException uploadTooLarge(long maxBytes) {
        return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large",
                "the upload is larger than " + maxBytes + " bytes, this server's limit for a LoRA file (kaze.limits.lora-upload-max)");
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        boolean upload = isUpload(exchange);
        long maxBytes = upload ? uploadMaxBytes : this.maxBytes;
        long declared = exchange.getRequest().getHeaders().getContentLength();
        if (declared > maxBytes) return problems.write(exchange, upload ? uploadTooLarge(maxBytes) : tooLarge(maxBytes));
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
