package dev.kaze.training;

import java.nio.file.Path;
import java.util.List;

/**
 * A dataset config whose media cannot all be trained on, found before anything was encoded. Carries every problem
 * found (not only the first), each with its dataset index, key and file, so a caller can list them all (e.g. as the
 * {@code errors} of an RFC 9457 problem).
 */
public final class DatasetCheckException extends RuntimeException {
    /** At most this many problems are spelled out in the message; {@link #problems()} has all of them. */
    static final int MESSAGE_PROBLEMS = 20;
    private final Path config;
    private final List<DatasetProblem> problems;

    public DatasetCheckException(Path config, List<DatasetProblem> problems) {
        super(message(config, problems));
        if (problems.isEmpty()) throw new IllegalArgumentException("a dataset check failure needs at least one problem");
        this.config = config;
        this.problems = List.copyOf(problems);
    }

    private static String message(Path config, List<DatasetProblem> problems) {
        StringBuilder sb = new StringBuilder();
        sb.append("dataset config ").append(config).append(" cannot be trained on: ").append(problems.size())
                .append(problems.size() == 1 ? " problem" : " problems").append(" (fix them and start again)");
        for (int i = 0; i < Math.min(problems.size(), MESSAGE_PROBLEMS); i++)
            sb.append("\n- ").append(problems.get(i).describe());
        if (problems.size() > MESSAGE_PROBLEMS)
            sb.append("\n- ... and ").append(problems.size() - MESSAGE_PROBLEMS).append(" more");
        return sb.toString();
    }

    /** The dataset config file (its {@link DatasetConfig#source()}). */
    public Path config() {
        return config;
    }

    /** Every problem, in dataset order, then file order. */
    public List<DatasetProblem> problems() {
        return problems;
    }
}
