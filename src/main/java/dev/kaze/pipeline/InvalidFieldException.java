package dev.kaze.pipeline;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Values that do not validate, each with the request field it came from, so that an API can list
 * them by field without reading the message. The message is every problem as {@code field: message}.
 */
public class InvalidFieldException extends IllegalArgumentException {
    /** One invalid field: its name as the request spells it ("prompt", "network_dim", "sample_prompts[2]") and why. */
    public record Problem(String field, String message) {}

    private final List<Problem> problems;

    public InvalidFieldException(String field, String message) { this(List.of(new Problem(field, message))); }

    public InvalidFieldException(List<Problem> problems) {
        super(problems.stream().map(p -> p.field() + ": " + p.message()).collect(Collectors.joining("; ")));
        if (problems.isEmpty()) throw new IllegalArgumentException("an InvalidFieldException needs at least one problem");
        this.problems = List.copyOf(problems);
    }

    public List<Problem> problems() { return problems; }
}
