package dev.kaze.parity;

/** How to check one kind of parity case; implementations live beside this interface. */
@FunctionalInterface
public interface ParityKind {
    void check(ParityCase c) throws Exception;
}
