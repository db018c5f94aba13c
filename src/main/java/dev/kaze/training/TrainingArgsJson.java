package dev.kaze.training;

import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Training arguments from a JSON object with musubi-tuner's option names. */
public final class TrainingArgsJson {
    /** One invalid argument. */
    public record Problem(String field, String message) {}

    /** Arguments that cannot be used, every one of them listed. */
    public static final class InvalidArgsException extends IllegalArgumentException {
        private final List<Problem> problems;

        public InvalidArgsException(List<Problem> problems) {
            super(problems.stream().map(p -> p.field() + ": " + p.message()).reduce((a, b) -> a + "; " + b).orElse("invalid"));
            this.problems = List.copyOf(problems);
        }

        public List<Problem> problems() { return problems; }
    }

    private static final Set<String> KEYS = Set.of("network_dim", "network_alpha", "learning_rate", "max_train_steps",
            "max_train_epochs", "seed", "discrete_flow_shift", "max_grad_norm", "save_every_n_steps", "output_name");

    private TrainingArgsJson() {}

    /** The arguments for a run over {@code samples} samples per epoch; max_train_epochs wins over max_train_steps. */
    public static TrainingArgs parse(JsonNode args, int samples) {
        List<Problem> problems = new ArrayList<>();
        if (args == null || !args.isObject()) throw new InvalidArgsException(List.of(new Problem("args", "must be a JSON object")));
        for (String k : args.propertyNames())
            if (!KEYS.contains(k)) problems.add(new Problem(k, "unknown training argument; known: " + new java.util.TreeSet<>(KEYS)));
        TrainingArgs ref = TrainingArgs.reference(1, "lora");
        int dim = integer(args, "network_dim", ref.networkDim(), problems);
        double alpha = number(args, "network_alpha", ref.networkAlpha(), problems);
        double lr = number(args, "learning_rate", ref.learningRate(), problems);
        int steps = integer(args, "max_train_steps", 1600, problems);
        int epochs = integer(args, "max_train_epochs", 0, problems);
        long seed = (long) number(args, "seed", ref.seed(), problems);
        double shift = number(args, "discrete_flow_shift", ref.discreteFlowShift(), problems);
        double clip = number(args, "max_grad_norm", ref.maxGradNorm(), problems);
        int saveEvery = integer(args, "save_every_n_steps", 0, problems);
        String name = args.has("output_name") ? args.get("output_name").asString() : "lora";
        if (!problems.isEmpty()) throw new InvalidArgsException(problems);
        if (epochs > 0) steps = epochs * Math.max(1, samples);
        try {
            return new TrainingArgs(dim, alpha, lr, steps, seed, shift, clip, saveEvery, name);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            String field = m.contains(" ") ? m.substring(0, m.indexOf(' ')) : "args";
            throw new InvalidArgsException(List.of(new Problem(field, m)));
        }
    }

    private static int integer(JsonNode args, String key, int dflt, List<Problem> problems) {
        JsonNode v = args.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            problems.add(new Problem(key, "must be an integer"));
            return dflt;
        }
        return v.asInt();
    }

    private static double number(JsonNode args, String key, double dflt, List<Problem> problems) {
        JsonNode v = args.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) {
            problems.add(new Problem(key, "must be a number"));
            return dflt;
        }
        return v.asDouble();
    }

    static Map<String, Object> unused() { return Map.of(); }
}
