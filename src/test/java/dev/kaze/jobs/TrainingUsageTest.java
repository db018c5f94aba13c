package dev.kaze.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JobSchema;
import dev.kaze.training.TrainingListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** A training's stage times come from the gaps between the trainer's callbacks, and are stored once per run. */
class TrainingUsageTest {
    final HikariDataSource pool = H2JobStoreTest.pool("jdbc:h2:mem:training_usage_" + UUID.randomUUID().toString().replace("-", ""), "usage");
    final AtomicLong now = new AtomicLong(1_000_000_000L);

    @AfterEach
    void close() {
        pool.close();
    }

    void advance(double seconds) {
        now.addAndGet((long) (seconds * 1e9));
    }

    @Test
    void eachCallbackEndsItsStageAndTheRunIsRecordedOnce() {
        JobSchema.migrate(pool, null);
        JdbcJobStore store = new JdbcJobStore(pool);
        Job job = store.create(new NewJob(JobKind.TRAINING, "alice", 0, "{}", "{}", null, null, null, null));
        List<String> heard = new ArrayList<>();
        TrainingListener inner = new TrainingListener() {
            @Override public void onStep(int step, int maxSteps, int epoch, double loss, double avgLoss, double lr) { heard.add("step " + step); }
            @Override public void onSaved(Path path, boolean state) { heard.add("saved " + path); }
            @Override public void onSample(Path file, int step, int epoch) { heard.add("sample " + file); }
            @Override public boolean stopRequested() { return true; }
        };

        TrainingUsage usage = new TrainingUsage(store, job.id(), "wan-preview", null, now::get);
        TrainingListener listener = usage.timing(inner);
        advance(2);
        usage.mark("prepare");
        advance(3);
        listener.onStep(1, 2, 1, 0.1, 0.1, 1e-4);
        advance(1);
        listener.onSaved(Path.of("a.safetensors"), false);
        advance(4);
        listener.onSample(Path.of("s.mp4"), 1, 1);
        advance(3);
        listener.onStep(2, 2, 1, 0.1, 0.1, 1e-4);
        advance(0.5);
        assertThat(listener.stopRequested()).isTrue();
        usage.record();
        advance(100);
        usage.close(); // already recorded: nothing more

        assertThat(heard).containsExactly("step 1", "saved a.safetensors", "sample s.mp4", "step 2");
        JobUsage stored = store.usage(job.id()).orElseThrow();
        assertThat(stored.stageSeconds()).containsExactly(Map.entry("prepare", 2.0), Map.entry("train", 6.5),
                Map.entry("save", 1.0), Map.entry("sample", 4.0));
        assertThat(stored.deviceSeconds()).isEqualTo(13.5);
        assertThat(stored.model()).isEqualTo("wan-preview");
        assertThat(stored.peakMemoryBytes()).isNull();
    }

    /** A callback the trainer adds later must reach the job's listener too (validation events were once swallowed here). */
    @Test
    void theTimingListenerForwardsEveryCallback() throws Exception {
        TrainingUsage usage = new TrainingUsage(null, "train_x", "wan-preview", null, now::get);
        Class<?> wrapper = usage.timing(TrainingListener.NONE).getClass();
        for (Method m : TrainingListener.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers())) continue;
            assertThat(wrapper.getDeclaredMethod(m.getName(), m.getParameterTypes()))
                    .as("TrainingUsage.timing forwards " + m.getName()).isNotNull();
        }
        List<String> heard = new ArrayList<>();
        TrainingListener listener = usage.timing(new TrainingListener() {
            @Override public void onStep(int step, int maxSteps, int epoch, double loss, double avgLoss, double lr) {}
            @Override public void onValidation(int step, int epoch, double loss) { heard.add("validation " + step + " " + loss); }
        });
        listener.onValidation(3, 1, 0.25);
        assertThat(heard).containsExactly("validation 3 0.25");
    }
}
