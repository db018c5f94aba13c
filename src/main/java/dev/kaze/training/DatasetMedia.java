// Port of musubi-tuner dataset/media_utils.py glob_images/glob_videos and the *DirectoryDatasource/*JsonlDatasource captions
package dev.kaze.training;

import dev.kaze.json.Json;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds a dataset's media and captions as musubi-tuner does (glob_images / glob_videos, *DirectoryDatasource /
 * *JsonlDatasource): non-recursive, sorted, caption = {@code stem + caption_extension} read as UTF-8 and stripped.
 * Images without a caption file are skipped and reported (musubi-tuner's current behaviour); a video without one is an
 * error.
 */
public final class DatasetMedia {
    public static final Set<String> IMAGE_EXTENSIONS = Set.of(".png", ".jpg", ".jpeg", ".webp", ".bmp");
    public static final Set<String> VIDEO_EXTENSIONS = Set.of(".mp4", ".webm", ".avi", ".mkv", ".mov", ".flv", ".wmv",
            ".m4v", ".mpg", ".mpeg");

    /** The media found and the files skipped, each with the reason. */
    public record Listing(List<MediaFile> files, List<String> skipped) {
        public Listing {
            files = List.copyOf(files);
            skipped = List.copyOf(skipped);
        }
    }

    private DatasetMedia() {
    }

    public static Listing list(Dataset dataset) {
        boolean video = dataset instanceof VideoDatasetConfig;
        return dataset.directory() != null
                ? directory(dataset.directory(), dataset.params().captionExtension(), video)
                : jsonl(dataset.jsonlFile(), video);
    }

    /** musubi matches an extension in lower case or all upper case (".png", ".PNG"), not mixed. */
    static boolean hasExtension(Path file, Set<String> extensions) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        if (dot <= 0) return false;
        String ext = name.substring(dot);
        return extensions.contains(ext) || (ext.equals(ext.toUpperCase()) && extensions.contains(ext.toLowerCase()));
    }

    static Listing directory(Path dir, String captionExtension, boolean video) {
        if (!Files.isDirectory(dir))
            throw new DatasetMediaException(dir, "the " + (video ? "video" : "image") + " directory does not exist");
        if (captionExtension == null)
            throw new DatasetMediaException(dir, "caption_extension is not set, so captions cannot be found; set it"
                    + " (e.g. caption_extension = \".txt\") in [general] or the dataset");
        List<Path> media;
        try (Stream<Path> s = Files.list(dir)) {
            media = s.filter(Files::isRegularFile).filter(p -> hasExtension(p, video ? VIDEO_EXTENSIONS : IMAGE_EXTENSIONS))
                    .sorted().toList();
        } catch (IOException e) {
            throw new DatasetMediaException(dir, "cannot list the directory: " + e.getMessage(), e);
        }
        List<MediaFile> files = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (Path p : media) {
            Path caption = captionFile(p, captionExtension);
            if (!Files.isRegularFile(caption)) {
                if (!video) {
                    skipped.add(p + ": skipped, no caption file " + caption.getFileName());
                    continue;
                }
                throw new DatasetMediaException(p, "missing caption file " + caption + "; write the caption there or"
                        + " remove the video from the dataset");
            }
            files.add(new MediaFile(p, readCaption(caption)));
        }
        return new Listing(files, skipped);
    }

    public static Path captionFile(Path media, String captionExtension) {
        String name = media.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        return media.resolveSibling(stem + captionExtension);
    }

    static String readCaption(Path caption) {
        try {
            byte[] bytes = Files.readAllBytes(caption);
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString().strip();
        } catch (CharacterCodingException e) {
            throw new DatasetMediaException(caption, "the caption is not valid UTF-8; save it as UTF-8", e);
        } catch (IOException e) {
            throw new DatasetMediaException(caption, "cannot read the caption: " + e.getMessage(), e);
        }
    }

    static Listing jsonl(Path file, boolean video) {
        String pathKey = video ? "video_path" : "image_path";
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DatasetMediaException(file, "cannot read the JSONL file: " + e.getMessage(), e);
        }
        Path base = file.toAbsolutePath().getParent();
        List<MediaFile> files = new ArrayList<>();
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n).strip();
            if (line.isEmpty()) continue;
            String where = "line " + (n + 1) + ": ";
            JsonNode node;
            try {
                node = Json.MAPPER.readTree(line);
            } catch (JacksonException e) {
                throw new DatasetMediaException(file, where + "not valid JSON: " + e.getOriginalMessage(), e);
            }
            JsonNode p = node.get(pathKey), c = node.get("caption");
            if (p == null || !p.isString())
                throw new DatasetMediaException(file, where + "needs a string \"" + pathKey + "\"");
            if (c == null || !c.isString())
                throw new DatasetMediaException(file, where + "needs a string \"caption\" (missing caption for " + p.asString() + ")");
            files.add(new MediaFile(base.resolve(p.stringValue()).normalize(), c.stringValue().strip()));
        }
        return new Listing(files, List.of());
    }
}
