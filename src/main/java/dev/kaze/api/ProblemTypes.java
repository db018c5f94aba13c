package dev.kaze.api;

import java.net.URI;

/** The problem type URIs of the API's RFC 9457 answers: one base, and a stable last segment per type. */
final class ProblemTypes {
    static final String BASE = "https://kaze.dev/problems/";

    private ProblemTypes() {}

    /** The type URI of a problem slug ("validation", "not-found"). */
    static URI of(String slug) { return URI.create(BASE + slug); }
}
