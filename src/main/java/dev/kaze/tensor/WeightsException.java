package dev.kaze.tensor;

/** A weight file that cannot be used as it is; the message names the file and the key. */
public class WeightsException extends RuntimeException {
    public WeightsException(String message) { super(message); }
    public WeightsException(String message, Throwable cause) { super(message, cause); }
}
