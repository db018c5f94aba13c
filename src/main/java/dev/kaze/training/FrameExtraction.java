package dev.kaze.training;

import java.util.Arrays;
import java.util.Optional;

/** musubi-tuner's {@code frame_extraction} modes (case-sensitive names in the TOML). */
public enum FrameExtraction {
    HEAD("head"), CHUNK("chunk"), SLIDE("slide"), UNIFORM("uniform"), FULL("full");

    private final String tomlName;

    FrameExtraction(String tomlName) {
        this.tomlName = tomlName;
    }

    public String tomlName() {
        return tomlName;
    }

    public static Optional<FrameExtraction> parse(String name) {
        return Arrays.stream(values()).filter(m -> m.tomlName.equals(name)).findFirst();
    }
}
