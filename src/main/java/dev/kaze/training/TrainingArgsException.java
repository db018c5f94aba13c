package dev.kaze.training;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Training arguments that cannot run, with every problem found (unknown key, wrong type, out of
 * range, unsupported choice), each under the musubi option name it concerns, so that an API can
 * answer with one list of field errors.
 */
public final class TrainingArgsException extends IllegalArgumentException {
    /** One problem: field is the musubi option name (e.g. "network_dim", "sample_prompts[2]"). */
    public record Problem(String field, String message) {}

    private final List<Problem> problems;

    public TrainingArgsException(List<Problem> problems) {
        super(problems.stream().map(p -> p.field() + ": " + p.message()).collect(Collectors.joining("; ")));
        if (problems.isEmpty()) throw new IllegalArgumentException("a TrainingArgsException needs at least one problem");
        this.problems = List.copyOf(problems);
    }

    public List<Problem> problems() { return problems; }
}
