package dev.kaze.api;

/**
 * One invalid request field, as listed in a validation problem's {@code errors}. Field names and
 * messages that echo what the client sent are cut short, so a hostile request cannot make a huge answer.
 */
public record FieldError(String field, String message) {
    static final int MAX_FIELD = 100;
    static final int MAX_MESSAGE = 400;

    public FieldError {
        field = clip(field, MAX_FIELD);
        message = clip(message, MAX_MESSAGE);
    }

    public static String clip(String s, int max) {
        if (s == null) return "";
        if (s.length() <= max) return s;
        int end = Character.isHighSurrogate(s.charAt(max - 1)) ? max - 1 : max;
        return s.substring(0, end) + "…";
    }
}
