package dev.kaze.api;

import dev.kaze.jobs.JobQueue;
import dev.kaze.storage.FileStore;
import dev.kaze.training.DatasetArchive;
import dev.kaze.training.DatasetArchiveException;
import dev.kaze.training.DatasetConfigText;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The files of one dataset upload while it is checked: the {@code dataset} zip and the
 * {@code dataset_config} file parts as they arrive, and the directory the zip unpacks to (kept as
 * the job's dataset when the training is queued, deleted otherwise; with a bucket it is {@link #store stored} and the
 * local copy deleted).
 */
record TrainingUpload(Path zip, Path config, Path dir) {
    private static final Logger log = LoggerFactory.getLogger(TrainingUpload.class);

    /** A new upload under the uploads directory, named by a random token. */
    static TrainingUpload under(Path uploads) {
        String token = UUID.randomUUID().toString();
        return new TrainingUpload(uploads.resolve(token + ".zip"), uploads.resolve(token + ".config"), uploads.resolve(token));
    }

    /** The form: the zip as {@code dataset}, the config as {@code dataset_config}; other file parts and repeated fields refused. */
    MultipartForm.Rules rules() {
        return new MultipartForm.Rules(List.of(new MultipartForm.FilePart("dataset", zip, "send one dataset file"),
                new MultipartForm.FilePart("dataset_config", config, "send one dataset_config file")),
                "file parts are accepted only as 'dataset' (a zip) and 'dataset_config'");
    }

    /** Unpacks the zip within the limits; an archive that cannot be unpacked is a 400 naming only its own entries. */
    void unpack(DatasetArchive.Limits limits) {
        try {
            DatasetArchive.extract(zip, dir, limits);
        } catch (DatasetArchiveException e) {
            // the archive's own names only, never the server's paths
            String why = ProblemWriter.clean(String.valueOf(e.getMessage()).replace(zip.toString(), "the archive")
                    .replace(zip.toAbsolutePath().toString(), "the archive").replace(dir.toAbsolutePath().toString(), "")
                    .replace(dir.toString(), ""));
            throw ValidationException.of("dataset", "cannot be unpacked: " + why);
        }
    }

    /** The text of the config file part, refused unread when it is too large. */
    String configText() throws IOException {
        if (Files.size(config) > DatasetConfigText.MAX_BYTES) throw DatasetConfigText.tooLarge();
        return Files.readString(config);
    }

    /**
     * Puts the unpacked dataset into the store under {@code datasets/<token>/} (its paths under the upload directory kept),
     * where a worker on another machine fetches it, and deletes this server's copy (an API replica keeps no dataset; the
     * store's copy goes when the training is deleted). Returns the prefix {@code datasets/<token>}.
     */
    String store(FileStore files) throws IOException {
        String prefix = "datasets/" + dir.getFileName();
        List<Path> found;
        try (Stream<Path> s = Files.walk(dir)) {
            found = s.filter(Files::isRegularFile).sorted().toList();
        }
        try {
            for (Path p : found) {
                String rel = dir.relativize(p).toString().replace('\\', '/');
                try {
                    files.put(prefix + "/" + FileStore.checkKey(rel), p);
                } catch (IllegalArgumentException e) {
                    throw ValidationException.of("dataset", "holds a file name the file store cannot keep ('"
                            + FieldError.clip(ProblemWriter.clean(rel), 100) + "'): rename it");
                }
            }
        } catch (RuntimeException e) {
            files.deleteAll(prefix + "/");
            throw e;
        }
        deleteQuietly(dir);
        return prefix;
    }

    /** Deletes the file parts (the unpacked directory stays). */
    void deleteParts() {
        deleteQuietly(zip);
        deleteQuietly(config);
    }

    /** Deletes a file or directory tree if it is there; a failure is logged, not thrown (clean-up after the answer). */
    static void deleteQuietly(Path p) {
        try {
            JobQueue.deleteFiles(p);
        } catch (RuntimeException e) {
            log.warn("could not delete {}: {}", p, e.getMessage());
        }
    }
}
