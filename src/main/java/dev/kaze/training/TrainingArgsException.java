package dev.kaze.training;

import dev.kaze.pipeline.InvalidFieldException;

import java.util.List;

/**
 * Training arguments that cannot run, with every problem found (unknown key, wrong type, out of
 * range, unsupported choice), each under the musubi option name it concerns, so that an API can
 * answer with one list of field errors.
 */
public final class TrainingArgsException extends InvalidFieldException {
    public TrainingArgsException(List<Problem> problems) { super(problems); }
}
