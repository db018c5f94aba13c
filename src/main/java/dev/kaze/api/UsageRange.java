package dev.kaze.api;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * The range of {@code GET /v1/usage}: {@code from} (inclusive) and {@code to} (exclusive), ISO-8601 instants
 * ({@code 2026-03-01T00:00:00Z}); {@code to} defaults to now, {@code from} to {@value #DEFAULT_DAYS} days before
 * {@code to}. At most {@value #MAX_DAYS} days.
 */
record UsageRange(Instant from, Instant to) {
    static final int DEFAULT_DAYS = 30;
    static final int MAX_DAYS = 366;

    /** Checks the query parameters; every bad one is named in the {@link ValidationException}. */
    static UsageRange parse(String from, String to, Clock clock) {
        List<FieldError> errors = new ArrayList<>();
        Instant end = to == null || to.isBlank() ? clock.instant() : instant("to", to, errors);
        Instant start = from == null || from.isBlank() ? (end == null ? null : end.minus(Duration.ofDays(DEFAULT_DAYS)))
                : instant("from", from, errors);
        if (errors.isEmpty()) {
            if (!start.isBefore(end)) {
                errors.add(new FieldError("from", "from (" + start + ") must be before to (" + end + ")"));
            } else if (Duration.between(start, end).compareTo(Duration.ofDays(MAX_DAYS)) > 0) {
                errors.add(new FieldError("from", "the range spans more than " + MAX_DAYS + " days; ask for a shorter one"));
            }
        }
        if (!errors.isEmpty()) throw new ValidationException(errors);
        return new UsageRange(start, end);
    }

    private static Instant instant(String field, String text, List<FieldError> errors) {
        try {
            return Instant.parse(text.strip());
        } catch (DateTimeParseException e) {
            errors.add(new FieldError(field, "'" + FieldError.clip(text, 60) + "' is not an ISO-8601 instant;"
                    + " write it like 2026-03-01T00:00:00Z"));
            return null;
        }
    }
}
