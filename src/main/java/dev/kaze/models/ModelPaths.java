package dev.kaze.models;

import java.nio.file.Path;

/**
 * Where bundles land: a model bundle in {@code <root>/<bundle name>} (the directory to give Kaze
 * as kaze.models.dir), a LoRA bundle in the LoRA catalog directory (kaze.models.loras).
 */
public record ModelPaths(Path root, Path loras) {
    public ModelPaths {
        root = root.toAbsolutePath().normalize();
        loras = loras.toAbsolutePath().normalize();
    }

    public Path directory(Bundle bundle) {
        return bundle.kind() == Bundle.Kind.LORA ? loras : root.resolve(bundle.name());
    }

    public Path target(Bundle bundle, Bundle.Part part) {
        Path dir = directory(bundle);
        Path target = dir.resolve(part.target()).normalize();
        if (!target.startsWith(dir)) throw new IllegalArgumentException(part.target() + " would land outside " + dir);
        return target;
    }
}
