package dev.kaze.models;

import java.net.URI;
import java.util.List;

/**
 * A named set of files Kaze needs: a model (into its own directory under the models root, laid
 * out as {@code ModelDirectory} reads it) or a LoRA (into the LoRA catalog directory).
 */
public record Bundle(String name, String description, Kind kind, List<Part> parts) {
    public enum Kind { MODEL, LORA }

    /** Where a file comes from. */
    public sealed interface Source {}

    /** A file of a Hugging Face repository at a revision. */
    public record HubFile(String repo, String revision, String path) implements Source {}

    /** The primary file of a Civitai model's newest version. */
    public record CivitaiModel(long modelId) implements Source {}

    /** Any URL; sha256 is null when the user gave none (the file is then recorded, not verified). */
    public record DirectUrl(URI uri, Checksum sha256) implements Source {}

    /** One file: its source and its path relative to the bundle's directory; an optional one may be absent upstream. */
    public record Part(Source source, String target, boolean optional) {
        public Part {
            if (target.isBlank() || target.startsWith("/") || target.contains("..") || target.contains("\\"))
                throw new IllegalArgumentException("a part's target must be a relative path inside its directory, got '" + target + "'");
        }
    }

    public Bundle {
        if (!name.matches("[a-z0-9][a-z0-9._-]*"))
            throw new IllegalArgumentException("a bundle name is lower-case letters, digits, '.', '_' and '-', got '" + name + "'");
        if (parts.isEmpty()) throw new IllegalArgumentException("bundle " + name + " has no files");
        parts = List.copyOf(parts);
    }
}
