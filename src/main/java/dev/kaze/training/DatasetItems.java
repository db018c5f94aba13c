package dev.kaze.training;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Function;

/**
 * The training items of one dataset: media listed ({@link DatasetMedia}), probed, bucketed ({@link BucketSelector})
 * and, for videos, cut into windows ({@link FrameWindows}). {@code notes} reports everything left out: images without
 * captions, and clips too short for a target frame count (musubi-tuner drops those silently).
 *
 * <p>Video buckets follow musubi-tuner's caching quirk by default: the pixels of a video window are bucketed with
 * buckets on and no_upscale off whatever the dataset says, while the grouping key ({@link TrainingItem#trainingBucket})
 * uses the dataset's flags. {@code honorVideoBucketFlags = true} uses the dataset's flags for both.
 */
public record DatasetItems(Dataset dataset, List<TrainingItem> items, List<String> notes) {
    public DatasetItems {
        items = List.copyOf(items);
        notes = List.copyOf(notes);
    }

    public static DatasetItems build(Dataset dataset, boolean honorVideoBucketFlags) {
        return build(dataset, DatasetMedia.list(dataset), DatasetItems::imageSize, VideoClip::probe, honorVideoBucketFlags);
    }

    /**
     * The items of {@code listing} (the dataset's media, already found), with the images' sizes and the videos' probes
     * from the given functions (so a caller that has already read every file need not read them again).
     */
    static DatasetItems build(Dataset dataset, DatasetMedia.Listing listing, Function<Path, Size> imageSize,
                              Function<Path, VideoClip.Info> probe, boolean honorVideoBucketFlags) {
        List<String> notes = new ArrayList<>(listing.skipped());
        List<TrainingItem> items = new ArrayList<>();
        DatasetParams p = dataset.params();
        BucketSelector training = new BucketSelector(p.resolution(), p.enableBucket(), p.bucketNoUpscale());
        switch (dataset) {
            case ImageDatasetConfig image -> {
                for (MediaFile f : listing.files()) {
                    Size size = imageSize.apply(f.path());
                    Size bucket = training.select(size);
                    items.add(new TrainingItem(image.index(), f.path(), f.caption(), false, size, bucket, bucket, 0, 1, null));
                }
            }
            case VideoDatasetConfig video -> {
                BucketSelector caching = honorVideoBucketFlags ? training : new BucketSelector(p.resolution(), true, false);
                FrameSettings s = video.frames();
                for (MediaFile f : listing.files()) {
                    VideoClip.Info info = probe.apply(f.path());
                    int n = FrameWindows.decimate(info.frameCount(), s.sourceFps()).length;
                    FrameWindows.Plan plan = FrameWindows.plan(n, s);
                    if (!plan.tooShortFor().isEmpty())
                        notes.add(f.path() + ": " + n + " frames" + (s.sourceFps() != null ? " after source_fps decimation" : "")
                                + ", too short for target_frames " + plan.tooShortFor() + " (" + s.extraction().tomlName()
                                + "); no item for " + (plan.tooShortFor().size() == 1 ? "it" : "them"));
                    Size bucket = caching.select(info.size());
                    Size key = training.select(info.size());
                    for (FrameWindows.Window w : plan.windows())
                        items.add(new TrainingItem(video.index(), f.path(), f.caption(), true, info.size(), bucket, key,
                                w.start(), w.frames(), s.sourceFps()));
                }
            }
        }
        return new DatasetItems(dataset, items, notes);
    }

    /**
     * The items of every dataset of {@code config}, in dataset order. Throws when there is none at all (musubi-tuner's
     * "No training items found"), naming the config and what was left out.
     */
    public static List<DatasetItems> buildAll(DatasetConfig config, boolean honorVideoBucketFlags) {
        List<DatasetItems> all = new ArrayList<>();
        for (Dataset d : config.datasets()) all.add(build(d, honorVideoBucketFlags));
        if (all.stream().allMatch(d -> d.items().isEmpty())) {
            List<String> notes = all.stream().flatMap(d -> d.notes().stream()).limit(10).toList();
            throw new DatasetMediaException(config.source(), "no training items found in any dataset; add media with"
                    + " captions" + (notes.isEmpty() ? "" : ". Left out: " + String.join("; ", notes)));
        }
        return all;
    }

    /** The size of an image from its header, without decoding it. */
    static Size imageSize(Path file) {
        if (!Files.isRegularFile(file)) throw new DatasetMediaException(file, "no such image file");
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext())
                throw new DatasetMediaException(file, "unreadable image: no decoder recognises it (PNG, JPEG, BMP, GIF,"
                        + " WebP are supported); convert it or remove it from the dataset");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                return new Size(reader.getWidth(0), reader.getHeight(0));
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof DatasetMediaException d) throw d;
            throw new DatasetMediaException(file, "unreadable image: " + e.getMessage() + "; convert it or remove it", e);
        }
    }

    /** The item's pixels resized and cropped to its bucket: one image for an image item, T frames for a window. */
    public static List<RgbImage> pixels(TrainingItem item) {
        if (!item.video()) return List.of(BucketResize.toBucket(readImage(item.media()), item.bucket()));
        List<RgbImage> frames = VideoClip.frames(item.media(), item.sourceFrameIndices());
        List<RgbImage> out = new ArrayList<>(frames.size());
        for (RgbImage f : frames) out.add(BucketResize.toBucket(f, item.bucket()));
        return out;
    }

    public static RgbImage readImage(Path file) {
        BufferedImage image;
        try {
            image = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new DatasetMediaException(file, "unreadable image: " + e.getMessage() + "; convert it or remove it", e);
        }
        if (image == null)
            throw new DatasetMediaException(file, "unreadable image: no decoder recognises it; convert it or remove it");
        return RgbImage.of(image);
    }
}
