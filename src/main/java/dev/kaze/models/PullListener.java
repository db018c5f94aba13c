package dev.kaze.models;

/** Receives a pull's events: the terminal progress bar, and later the HTTP API's event stream. */
@FunctionalInterface
public interface PullListener {
    PullListener NONE = event -> {};

    void on(PullEvent event);
}
