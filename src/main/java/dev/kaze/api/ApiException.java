package dev.kaze.api;

import org.springframework.http.HttpStatus;

import java.util.LinkedHashMap;
import java.util.Map;

/** An HTTP error with a stable problem type (the last segment of its type URI), and any headers the answer needs. */
public class ApiException extends RuntimeException {
    private final HttpStatus status;
    private final String type;
    private final Map<String, String> headers = new LinkedHashMap<>();

    public ApiException(HttpStatus status, String type, String detail) {
        super(detail);
        this.status = status;
        this.type = type;
    }

    /** Adds a response header (e.g. Content-Range on a 416). */
    public ApiException header(String name, String value) {
        headers.put(name, value);
        return this;
    }

    public HttpStatus status() { return status; }

    public String type() { return type; }

    public Map<String, String> headers() { return Map.copyOf(headers); }
}
