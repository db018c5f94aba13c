package dev.kaze.api;

import org.springframework.http.HttpStatus;

/** An HTTP error with a stable problem type (the last segment of its type URI). */
public class ApiException extends RuntimeException {
    private final HttpStatus status;
    private final String type;

    public ApiException(HttpStatus status, String type, String detail) {
        super(detail);
        this.status = status;
        this.type = type;
    }

    public HttpStatus status() { return status; }

    public String type() { return type; }
}
