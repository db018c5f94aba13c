package dev.kaze.api;

import dev.kaze.json.Json;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.MediaType;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import tools.jackson.core.JacksonException;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.exc.StreamConstraintsException;
import tools.jackson.databind.JsonNode;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Request bodies as strict JSON ({@link Json#MAPPER}): UTF-8 without a byte order mark, no duplicate
 * keys, bounded nesting and numbers; every problem is a 400 on the field {@code body}.
 */
final class JsonBodies {
    private JsonBodies() {}

    /** application/json or any {@code +json} type. */
    static boolean isJson(MediaType type) {
        return type.getSubtype().equals("json") || type.getSubtype().endsWith("+json");
    }

    /** The request body as strict JSON, at most maxBytes (413 beyond); an empty body is a 400. */
    static Mono<JsonNode> read(ServerWebExchange exchange, int maxBytes) {
        return DataBufferUtils.join(exchange.getRequest().getBody(), maxBytes)
                .map(buffer -> {
                    try {
                        byte[] bytes = new byte[buffer.readableByteCount()];
                        buffer.read(bytes);
                        return bytes;
                    } finally {
                        DataBufferUtils.release(buffer);
                    }
                })
                .onErrorMap(DataBufferLimitException.class, e -> BodyLimitFilter.tooLarge(maxBytes))
                .defaultIfEmpty(new byte[0])
                .map(JsonBodies::parse);
    }

    /** Strict JSON: UTF-8 without a byte order mark, no duplicate keys, bounded nesting and numbers. */
    static JsonNode parse(byte[] bytes) {
        if (bytes.length == 0) throw ValidationException.of("body", "is empty; send a JSON object with a prompt");
        if (bytes.length >= 3 && (bytes[0] & 0xff) == 0xEF && (bytes[1] & 0xff) == 0xBB && (bytes[2] & 0xff) == 0xBF)
            throw ValidationException.of("body", "starts with a byte order mark; send UTF-8 JSON without one");
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw ValidationException.of("body", "is not valid UTF-8");
        }
        try {
            return Json.MAPPER.readTree(text);
        } catch (StreamConstraintsException e) {
            throw ValidationException.of("body", "is not acceptable JSON: " + reason(e));
        } catch (JacksonException e) {
            TokenStreamLocation at = e.getLocation();
            String where = at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw ValidationException.of("body", "is not valid JSON" + where + ": " + reason(e));
        }
    }

    /** A form field that carries JSON (a multipart part's text), or null when absent; not JSON is a 400 on that field. */
    static JsonNode field(String name, String value) {
        if (value == null) return null;
        try {
            return Json.MAPPER.readTree(value);
        } catch (JacksonException e) {
            throw ValidationException.of(name, "is not valid JSON");
        }
    }

    /** A JSON value as text: a string as it is, anything else as JSON; null for absent or null. */
    static String text(JsonNode n) { return n == null || n.isNull() ? null : n.isString() ? n.asString() : n.toString(); }

    /** Jackson's reason without its pointers into Jackson's own configuration and source. */
    private static String reason(JacksonException e) {
        String m = e.getOriginalMessage() == null ? "malformed" : e.getOriginalMessage();
        m = m.replaceAll("(?s)\\s*\\(?(start marker )?at \\[Source.*", "").replaceAll(", from `[^`]*`", "").replaceAll("\\s*\\(from `[^`]*`\\)", "");
        return FieldError.clip(ProblemWriter.clean(m), 160);
    }
}
