package dev.kaze.models;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Pulls a bundle: resolves each file at its source, checks the disk holds them all, then downloads each. */
public final class Puller {
    private final HubClient hub;
    private final CivitaiClient civitai;
    private final Downloader downloader;
    private final ModelPaths paths;

    public Puller(HubClient hub, CivitaiClient civitai, Downloader downloader, ModelPaths paths) {
        this.hub = hub;
        this.civitai = civitai;
        this.downloader = downloader;
        this.paths = paths;
    }

    public ModelPaths paths() { return paths; }

    /** The files now in place, in the bundle's order; throws {@link PullException} with what to do. */
    public List<PullEvent.FileDone> pull(Bundle bundle, PullListener listener) {
        record Planned(RemoteFile file, Path target) {}
        List<Planned> plan = new ArrayList<>();
        for (Bundle.Part part : bundle.parts())
            resolve(part).ifPresent(file -> plan.add(new Planned(file, paths.target(bundle, part))));
        long needed = plan.stream().mapToLong(p -> downloader.remaining(p.file(), p.target())).sum();
        Path dir = paths.directory(bundle);
        downloader.requireSpace("bundle " + bundle.name(), dir, needed);
        List<PullEvent.FileDone> done = new ArrayList<>();
        for (Planned p : plan) done.add(downloader.fetch(p.file(), p.target(), listener));
        listener.on(new PullEvent.BundleDone(bundle.name(), dir, done.size(), done.stream().mapToLong(PullEvent.FileDone::bytes).sum()));
        return List.copyOf(done);
    }

    private Optional<RemoteFile> resolve(Bundle.Part part) {
        return switch (part.source()) {
            case Bundle.HubFile h -> part.optional() ? hub.find(h.repo(), h.revision(), h.path())
                    : Optional.of(hub.file(h.repo(), h.revision(), h.path()));
            case Bundle.CivitaiModel c -> Optional.of(civitai.latest(c.modelId()));
            case Bundle.DirectUrl u -> Optional.of(new RemoteFile(u.uri().toString(), u.uri(), -1, false, u.sha256(),
                    civitai.hosts(u.uri()) ? civitai.access() : Access.NONE));
        };
    }
}
