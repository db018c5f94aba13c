// Port of musubi-tuner dataset/image_video_dataset.py, prepare_for_training and BucketBatchManager (grouping and slicing)
package dev.kaze.training;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * musubi-tuner's per-dataset batching (prepare_for_training, BucketBatchManager): items grouped by bucket key (image:
 * (w, h); video: (w, h, T)), each item listed {@code num_repeats} times, batches consecutive slices of
 * {@code batch_size} (the last one may be smaller). Keys are sorted. Shuffling is left to the trainer.
 *
 * <p>The key also carries the pixel bucket, so items whose musubi key matches but whose cached size differs (the video
 * caching quirk) never share a batch; musubi-tuner would fail to stack them.
 */
public final class BucketBatches {
    public record Key(Size trainingBucket, Size bucket, int frames) {
    }

    public record Batch(Key key, List<TrainingItem> items) {
        public Batch {
            items = List.copyOf(items);
        }
    }

    private BucketBatches() {
    }

    public static List<Batch> of(DatasetItems items) {
        DatasetParams p = items.dataset().params();
        return of(items.items(), p.numRepeats(), p.batchSize());
    }

    public static List<Batch> of(List<TrainingItem> items, int numRepeats, int batchSize) {
        if (numRepeats < 1 || batchSize < 1)
            throw new IllegalArgumentException("num_repeats and batch_size must be at least 1, got " + numRepeats + ", " + batchSize);
        Map<Key, List<TrainingItem>> buckets = new LinkedHashMap<>();
        for (TrainingItem item : items) {
            List<TrainingItem> list = buckets.computeIfAbsent(new Key(item.trainingBucket(), item.bucket(), item.frames()),
                    k -> new ArrayList<>());
            for (int r = 0; r < numRepeats; r++) list.add(item);
        }
        Comparator<Key> order = Comparator.<Key>comparingInt(k -> k.trainingBucket().width())
                .thenComparingInt(k -> k.trainingBucket().height()).thenComparingInt(Key::frames)
                .thenComparingInt(k -> k.bucket().width()).thenComparingInt(k -> k.bucket().height());
        List<Batch> batches = new ArrayList<>();
        buckets.keySet().stream().sorted(order).forEach(key -> {
            List<TrainingItem> list = buckets.get(key);
            for (int i = 0; i < list.size(); i += batchSize)
                batches.add(new Batch(key, list.subList(i, Math.min(list.size(), i + batchSize))));
        });
        return batches;
    }
}
