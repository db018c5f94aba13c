package dev.kaze.jobs;

/** What a job does; {@link #idPrefix()} starts every id of that kind ({@code video_…}, {@code train_…}). */
public enum JobKind {
    VIDEO("video_"), TRAINING("train_");

    private final String idPrefix;

    JobKind(String idPrefix) {
        this.idPrefix = idPrefix;
    }

    public String idPrefix() {
        return idPrefix;
    }

    /** The kind whose prefix starts {@code id}, or null when none does. */
    public static JobKind ofId(String id) {
        if (id == null) return null;
        for (JobKind k : values()) if (id.startsWith(k.idPrefix)) return k;
        return null;
    }
}
