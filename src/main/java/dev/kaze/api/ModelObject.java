package dev.kaze.api;

import dev.kaze.jobs.ProblemTypes;
import dev.kaze.json.Json;
import dev.kaze.models.BundleStatus;
import dev.kaze.models.ModelPulls;
import dev.kaze.models.PullEvent;
import dev.kaze.models.PullException;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The models API's wire objects: a bundle ({@code "object": "model"}, OpenAI's id/object/created/owned_by
 * with Kaze's fields beside them), a pull ({@code "object": "model.pull"}) and a pull's events.
 */
final class ModelObject {
    private ModelObject() {}

    /** A bundle with the state of each of its files on disk; active: it is the served model or a LoRA of its default stack. */
    static ObjectNode bundle(BundleStatus s, String kind, boolean active, boolean recipe, ModelPulls.Pull pulling) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("id", s.bundle());
        n.put("object", "model");
        n.put("created", created(s));
        n.put("owned_by", "kaze");
        n.put("kind", kind);
        n.put("description", s.description());
        n.put("directory", s.directory().toString());
        n.put("ready", s.ready());
        n.put("active", active);
        n.put("recipe", recipe);
        long size = 0;
        ArrayNode parts = n.putArray("parts");
        ArrayNode missing = Json.MAPPER.createArrayNode();
        for (BundleStatus.PartStatus p : s.parts()) {
            ObjectNode o = parts.addObject();
            o.put("file", p.target());
            o.put("path", p.path().toString());
            o.put("state", p.state().name().toLowerCase(Locale.ROOT));
            o.put("size_bytes", p.bytes());
            o.put("hash_algorithm", p.algorithm());
            o.put("hash", p.hash());
            o.put("sha256", "sha256".equals(p.algorithm()) ? p.hash() : null);
            o.put("optional", p.optional());
            boolean present = p.state() == BundleStatus.State.VERIFIED || p.state() == BundleStatus.State.UNVERIFIED;
            if (present) size += p.bytes();
            else if (!p.optional()) missing.add(p.target());
        }
        n.put("size_bytes", size);
        n.set("missing", missing);
        n.set("pull", pulling == null ? null : pull(pulling));
        return n;
    }

    /** Seconds since the epoch of the bundle's newest file, 0 when none is on disk. */
    private static long created(BundleStatus s) {
        long newest = 0;
        for (BundleStatus.PartStatus p : s.parts()) {
            if (p.state() != BundleStatus.State.VERIFIED && p.state() != BundleStatus.State.UNVERIFIED) continue;
            try {
                newest = Math.max(newest, Files.getLastModifiedTime(p.path()).toMillis() / 1000);
            } catch (IOException e) {
                // removed meanwhile
            }
        }
        return newest;
    }

    static ObjectNode pull(ModelPulls.Pull p) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("id", p.id());
        n.put("object", "model.pull");
        n.put("bundle", p.bundle().name());
        n.put("status", p.state().name().toLowerCase(Locale.ROOT));
        n.put("created_at", p.startedAt().getEpochSecond());
        n.put("ended_at", p.endedAt() == null ? null : p.endedAt().getEpochSecond());
        n.put("events_url", ModelsController.PATH + "/pulls/" + p.id() + "/events");
        n.set("error", p.error() == null ? null : problem(p, p.error()));
        return n;
    }

    /** The SSE event name of a pull event. */
    static String type(PullEvent e) {
        return switch (e) {
            case PullEvent.FileStarted s -> "file_started";
            case PullEvent.FileProgress s -> "file_progress";
            case PullEvent.FileVerified s -> "file_verified";
            case PullEvent.FileDone s -> "file_done";
            case PullEvent.BundleDone s -> "done";
        };
    }

    static ObjectNode event(ModelPulls.Pull pull, PullEvent e) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("pull_id", pull.id());
        n.put("bundle", pull.bundle().name());
        n.put("type", type(e));
        switch (e) {
            case PullEvent.FileStarted s -> {
                n.put("file", s.file());
                n.put("target", path(s.target()));
                n.put("total_bytes", s.totalBytes());
                n.put("resumed_from", s.resumedFrom());
            }
            case PullEvent.FileProgress s -> {
                n.put("file", s.file());
                n.put("done_bytes", s.doneBytes());
                n.put("total_bytes", s.totalBytes());
                n.put("bytes_per_second", Math.round(s.bytesPerSecond()));
            }
            case PullEvent.FileVerified s -> {
                n.put("file", s.file());
                n.put("algorithm", s.algorithm());
                n.put("hash", s.hash());
            }
            case PullEvent.FileDone s -> {
                n.put("file", s.file());
                n.put("target", path(s.target()));
                n.put("bytes", s.bytes());
                n.put("downloaded", s.downloaded());
            }
            case PullEvent.BundleDone s -> {
                n.put("directory", path(s.directory()));
                n.put("files", s.files());
                n.put("bytes", s.bytes());
            }
        }
        return n;
    }

    /** A failed pull as a problem detail ({@code type}, {@code title}, {@code status}, {@code detail}), with the pull named. */
    static ObjectNode problem(ModelPulls.Pull pull, PullException e) {
        String name = switch (e) {
            case PullException.DiskFull d -> "disk-full";
            case PullException.HashMismatch h -> "hash-mismatch";
            default -> "pull-failed";
        };
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("type", ProblemTypes.BASE + name);
        n.put("title", "Pull Failed");
        n.put("status", 502);
        n.put("detail", e.getMessage());
        n.put("pull_id", pull.id());
        n.put("bundle", pull.bundle().name());
        return n;
    }

    private static String path(Path p) { return p == null ? null : p.toString(); }
}
