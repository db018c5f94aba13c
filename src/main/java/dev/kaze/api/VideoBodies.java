package dev.kaze.api;

import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;
import org.springframework.http.codec.multipart.FormFieldPart;
import org.springframework.http.codec.multipart.Part;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.netty.channel.AbortedException;
import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The body of {@code POST /v1/videos} as JSON, whichever way the client sent it: application/json
 * (UTF-8), multipart/form-data (fields only) or application/x-www-form-urlencoded, the forms
 * mapped by {@link VideoCreateRequest#fromForm}. A type that cannot be served is a 415, a body the
 * codecs cannot take apart a 400 naming the body, one too large a 413.
 */
final class VideoBodies {
    private VideoBodies() {}

    static Mono<JsonNode> read(ServerWebExchange exchange, int maxBytes) {
        MediaType type;
        try {
            type = contentType(exchange);
        } catch (RuntimeException e) {
            return Mono.error(e);
        }
        if (type.equalsTypeAndSubtype(MediaType.MULTIPART_FORM_DATA)) {
            if (type.getParameter("boundary") == null)
                return Mono.error(ValidationException.of("Content-Type", "multipart/form-data needs a boundary parameter"));
            return exchange.getMultipartData().onErrorMap(e -> !(e instanceof ApiException), VideoBodies::unreadable)
                    .map(parts -> (JsonNode) VideoCreateRequest.fromForm(fields(parts)));
        }
        if (type.equalsTypeAndSubtype(MediaType.APPLICATION_FORM_URLENCODED))
            return exchange.getFormData().onErrorMap(e -> !(e instanceof ApiException), VideoBodies::unreadable)
                    .map(form -> (JsonNode) VideoCreateRequest.fromForm(form));
        if (!(type.getType().equals("application") && JsonBodies.isJson(type)))
            return Mono.error(unsupported("Content-Type " + FieldError.clip(type.toString(), 100) + " is not accepted"));
        return JsonBodies.read(exchange, maxBytes);
    }

    /** The multipart parts as form fields; a file part is refused. */
    private static Map<String, List<String>> fields(Map<String, List<Part>> parts) {
        Map<String, List<String>> form = new LinkedHashMap<>();
        for (var e : parts.entrySet()) {
            List<String> values = new ArrayList<>();
            for (Part p : e.getValue()) {
                if (!(p instanceof FormFieldPart f)) throw ValidationException.of(e.getKey(), "file uploads are not accepted here");
                values.add(f.value());
            }
            form.put(e.getKey(), values);
        }
        return form;
    }

    /** The declared Content-Type, or JSON when there is none; one that cannot be served is a 415. */
    private static MediaType contentType(ServerWebExchange exchange) {
        List<String> declared = exchange.getRequest().getHeaders().getOrEmpty(HttpHeaders.CONTENT_TYPE);
        if (declared.size() > 1) throw ValidationException.of("Content-Type", "given more than once");
        if (declared.isEmpty() || declared.getFirst().isBlank()) return MediaType.APPLICATION_JSON;
        MediaType type;
        try {
            type = MediaType.parseMediaType(declared.getFirst());
        } catch (InvalidMediaTypeException e) {
            throw unsupported("Content-Type '" + FieldError.clip(declared.getFirst(), 100) + "' is not a valid media type");
        }
        if (type.isWildcardType() || type.isWildcardSubtype()) throw unsupported("Content-Type " + type + " is a wildcard, not a type");
        String charset = type.getParameter("charset");
        if (charset != null) {
            String name = charset.replace("\"", "").strip();
            if (!name.equalsIgnoreCase("utf-8") && !name.equalsIgnoreCase("utf8"))
                throw unsupported("charset " + FieldError.clip(name, 40) + " is not accepted; the body must be UTF-8");
        }
        return type;
    }

    private static ApiException unsupported(String why) {
        return new ApiException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                why + "; send application/json (UTF-8), multipart/form-data or application/x-www-form-urlencoded");
    }

    /** A form or multipart body the codecs could not take apart: the client's fault, unless it was too large. */
    private static Throwable unreadable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            if (t instanceof DataBufferLimitException l)
                return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large",
                        "the form is larger than this server accepts: " + ProblemWriter.clean(l.getMessage()));
        if (e instanceof AbortedException) return e;
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (why.equals("No name available")) why = "a part has no name in its Content-Disposition";
        return ValidationException.of("body", "is not a readable form: " + ProblemWriter.clean(why));
    }
}
