package dev.kaze.api;

/** One invalid request field, as listed in a validation problem's {@code errors}. */
public record FieldError(String field, String message) {}
