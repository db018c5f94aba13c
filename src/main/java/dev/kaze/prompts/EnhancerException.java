package dev.kaze.prompts;

/** The enhancer gave no usable prompt: it timed out, or it failed (unreachable, an error answer, an unusable reply). */
public final class EnhancerException extends RuntimeException {
    public enum Kind { TIMEOUT, FAILED }

    private final Kind kind;

    public EnhancerException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public EnhancerException(Kind kind, String message) { this(kind, message, null); }

    public Kind kind() { return kind; }
}
