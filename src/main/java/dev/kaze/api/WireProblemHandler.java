package dev.kaze.api;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import org.springframework.http.HttpStatus;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Sits right after Netty's HTTP codec and gives a problem+json body to every error response that
 * would otherwise go out empty: requests that never reach Spring (a request line or headers too
 * long, bytes that are not HTTP/1.1, a bad Content-Length, an unsupported WebSocket version) and
 * bare status answers. It also refuses request targets that are not a path (RFC 9112 §3.2), so
 * {@code GET v1/videos} cannot pass for {@code GET /v1/videos}. One instance per connection.
 */
public final class WireProblemHandler extends ChannelDuplexHandler {
    private boolean head;
    private Throwable failure;
    private byte[] pendingBody;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest request) {
            head = HttpMethod.HEAD.equals(request.method());
            failure = request.decoderResult().isFailure() ? request.decoderResult().cause() : null;
            pendingBody = null;
            if (failure == null) failure = checkTarget(request);
            if (failure != null && !request.decoderResult().isFailure())
                request.setDecoderResult(DecoderResult.failure(failure));   // Reactor Netty answers 400 and drops the body
        }
        ctx.fireChannelRead(msg);
    }

    /** Why the request target is unusable, or null: it must be a path (or an absolute http URL) that parses as a URI. */
    private static Throwable checkTarget(HttpRequest request) {
        String uri = request.uri();
        String lower = uri.toLowerCase(Locale.ROOT);
        boolean form = uri.startsWith("/") || lower.startsWith("http://") || lower.startsWith("https://")
                || (uri.equals("*") && HttpMethod.OPTIONS.equals(request.method()));
        if (!form) return new IllegalArgumentException("the request target must be a path such as /v1/videos");
        try {
            new URI(uri);
            return null;
        } catch (URISyntaxException e) {
            return new IllegalArgumentException("the request target is not a valid URI (" + e.getReason() + " at index " + e.getIndex()
                    + "); percent-encode characters such as spaces, quotes, braces and non-ASCII letters");
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse response && needsBody(response)) {
            byte[] body = body(response.status().code());
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/problem+json");
            response.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
            response.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
            if (msg instanceof FullHttpResponse full) {
                FullHttpResponse replaced = new DefaultFullHttpResponse(full.protocolVersion(), full.status(),
                        Unpooled.wrappedBuffer(body), full.headers(), full.trailingHeaders());
                ReferenceCountUtil.release(full);
                ctx.write(replaced, promise);
            } else {
                pendingBody = body;
                ctx.write(msg, promise);
            }
            return;
        }
        if (pendingBody != null && msg instanceof LastHttpContent last && last.content().readableBytes() == 0) {
            byte[] body = pendingBody;
            pendingBody = null;
            ReferenceCountUtil.release(last);
            ctx.write(new DefaultLastHttpContent(Unpooled.wrappedBuffer(body)), promise);
            return;
        }
        ctx.write(msg, promise);
    }

    /** An error response with no body and no type of its own (never for HEAD). */
    private boolean needsBody(HttpResponse response) {
        int status = response.status().code();
        if (status < 400 || head || response.headers().contains(HttpHeaderNames.CONTENT_TYPE)) return false;
        String length = response.headers().get(HttpHeaderNames.CONTENT_LENGTH);
        if (response instanceof FullHttpResponse full) return full.content().readableBytes() == 0 && (length == null || length.equals("0"));
        return "0".equals(length);
    }

    private byte[] body(int code) {
        HttpStatus status = HttpStatus.resolve(code);
        if (status == null) status = code >= 500 ? HttpStatus.INTERNAL_SERVER_ERROR : HttpStatus.BAD_REQUEST;
        String detail = switch (code) {
            case 400 -> failure != null ? "the request is not valid HTTP/1.1: " + reason(failure) : "the request could not be read";
            case 413 -> "the request is larger than this server accepts";
            case 414 -> "the request line (method and target) is longer than this server accepts";
            case 417 -> "the Expect header is not understood; only 100-continue is";
            case 426 -> "this WebSocket version is not supported; use version 13";
            case 431 -> "the request headers are larger than this server accepts";
            default -> status.getReasonPhrase();
        };
        if (failure instanceof TooLongHttpLineException && code != 414) detail = "the request line (method and target) is longer than this server accepts";
        if (failure instanceof TooLongHttpHeaderException && code != 431) detail = "the request headers are larger than this server accepts";
        String slug = status.name().toLowerCase(Locale.ROOT).replace('_', '-');
        return ProblemWriter.toJson(ProblemWriter.of(status, slug, status.getReasonPhrase(), detail)).getBytes(StandardCharsets.UTF_8);
    }

    private static String reason(Throwable t) {
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        StringBuilder b = new StringBuilder();
        m.codePoints().limit(200).forEach(c -> b.appendCodePoint(c < 0x20 || c == 0x7f ? '?' : c));
        return b.toString();
    }
}
