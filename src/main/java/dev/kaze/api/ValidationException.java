package dev.kaze.api;

import dev.kaze.pipeline.InvalidFieldException;

import java.util.ArrayList;
import java.util.List;

/**
 * A request whose fields do not validate; becomes a 400 problem listing every field (the first
 * {@value #MAX_ERRORS}, then one entry counting the rest).
 */
public class ValidationException extends RuntimeException {
    static final int MAX_ERRORS = 50;
    private final List<FieldError> errors;

    public ValidationException(List<FieldError> errors) {
        super(detail(errors));
        List<FieldError> kept = new ArrayList<>(errors.subList(0, Math.min(errors.size(), MAX_ERRORS)));
        if (errors.size() > MAX_ERRORS)
            kept.add(new FieldError("body", "and " + (errors.size() - MAX_ERRORS) + " more invalid fields not listed"));
        this.errors = List.copyOf(kept);
    }

    private static String detail(List<FieldError> errors) {
        if (errors.isEmpty()) return "invalid request";
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < Math.min(errors.size(), 5); i++) {
            if (i > 0) b.append("; ");
            b.append(errors.get(i).field()).append(": ").append(errors.get(i).message());
        }
        if (errors.size() > 5) b.append("; and ").append(errors.size() - 5).append(" more (see errors)");
        return b.toString();
    }

    public static ValidationException of(String field, String message) {
        return new ValidationException(List.of(new FieldError(field, message)));
    }

    /** The problems of a domain validation, each under its field with prefix before it ("args." + "network_dim"). */
    public static ValidationException of(InvalidFieldException e, String prefix) {
        return new ValidationException(e.problems().stream().map(p -> new FieldError(prefix + p.field(), p.message())).toList());
    }

    public List<FieldError> errors() { return errors; }
}
