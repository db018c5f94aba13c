package dev.kaze.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Which files of a bundle are on disk, read from the disk alone (no network): for readiness
 * and the models listing. ready means every required file is present.
 */
public record BundleStatus(String bundle, String description, Path directory, boolean ready, List<PartStatus> parts) {
    public enum State { VERIFIED, UNVERIFIED, PARTIAL, MISSING }

    /** bytes: the file's size, or the partial download's bytes; hash: the verified hash, when recorded. */
    public record PartStatus(String target, Path path, State state, long bytes, String algorithm, String hash, boolean optional) {}

    public static BundleStatus of(Bundle bundle, ModelPaths paths) {
        List<PartStatus> parts = new ArrayList<>();
        boolean ready = true;
        for (Bundle.Part part : bundle.parts()) {
            Path path = paths.target(bundle, part);
            Sidecar mark = Sidecar.read(path);
            PartStatus s;
            if (mark != null) s = new PartStatus(part.target(), path, State.VERIFIED, mark.size(), mark.algorithm(), mark.hash(), part.optional());
            else if (Files.isRegularFile(path)) s = new PartStatus(part.target(), path, State.UNVERIFIED, size(path), null, null, part.optional());
            else if (Files.isRegularFile(Sidecar.partOf(path)))
                s = new PartStatus(part.target(), path, State.PARTIAL, size(Sidecar.partOf(path)), null, null, part.optional());
            else s = new PartStatus(part.target(), path, State.MISSING, 0, null, null, part.optional());
            if (!part.optional() && (s.state() == State.PARTIAL || s.state() == State.MISSING)) ready = false;
            parts.add(s);
        }
        return new BundleStatus(bundle.name(), bundle.description(), paths.directory(bundle), ready, List.copyOf(parts));
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }
}
