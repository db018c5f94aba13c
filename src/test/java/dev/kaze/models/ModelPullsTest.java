package dev.kaze.models;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server's pulls: on a background thread, one per bundle at a time, the events kept for late
 * subscribers, the bundle handed to onPulled before the pull ends, and a failure as the pull's end.
 */
class ModelPullsTest {
    @TempDir Path dir;
    FakeHub fake;
    final List<String> pulledOn = new CopyOnWriteArrayList<>();

    @BeforeEach
    void hub() throws Exception {
        fake = new FakeHub();
        fake.put(Catalog.WAN_1_3B, "config.json", "{\"dim\": 1536}".getBytes());
        fake.put(Catalog.WAN_1_3B, "diffusion_pytorch_model.safetensors", FakeHub.bytes(50_000, 1));
        fake.put(Catalog.WAN_1_3B, "models_t5_umt5-xxl-enc-bf16.pth", FakeHub.bytes(3000, 2));
        fake.put(Catalog.WAN_1_3B, "Wan2.1_VAE.pth", FakeHub.bytes(2000, 3));
        fake.put(Catalog.WAN_1_3B, "google/umt5-xxl/tokenizer.json", "{\"model\": {}}".getBytes());
    }

    @AfterEach
    void close() { fake.close(); }

    ModelPulls pulls(URI endpoint) {
        HttpGet http = HttpGet.create();
        Puller puller = new Puller(new HubClient(endpoint, null, http), new CivitaiClient(endpoint, null, http),
                new Downloader(http, FreeSpace.DISK, 2, Duration.ofMillis(10)), new ModelPaths(dir.resolve("models"), dir.resolve("loras")));
        return new ModelPulls(puller, dir.resolve("models/wan2.1-t2v-1.3b"), b -> pulledOn.add(b.name() + "@" + Thread.currentThread().getName()));
    }

    static PullException await(ModelPulls.Pull pull, List<PullEvent> seen) throws InterruptedException {
        CountDownLatch ended = new CountDownLatch(1);
        AtomicReference<PullException> error = new AtomicReference<>();
        pull.subscribe(new ModelPulls.Pull.Subscriber() {
            @Override public void event(PullEvent event) { seen.add(event); }

            @Override public void end(PullException e) {
                error.set(e);
                ended.countDown();
            }
        });
        assertThat(ended.await(60, TimeUnit.SECONDS)).as("the pull ends").isTrue();
        return error.get();
    }

    @Test
    void pullsInTheBackgroundOncePerBundleAndReplaysItsEvents() throws Exception {
        fake.chunkDelayMillis = 40;
        ModelPulls pulls = pulls(fake.endpoint());
        Bundle bundle = Catalog.find("wan2.1-t2v-1.3b").orElseThrow();
        assertThat(pulls.serves(bundle)).isTrue();
        assertThat(pulls.serves(Catalog.find("wan2.1-t2v-14b").orElseThrow())).isFalse();

        ModelPulls.Started first = pulls.start(bundle);
        ModelPulls.Started again = pulls.start(bundle);
        assertThat(first.started()).isTrue();
        assertThat(again.started()).isFalse();
        assertThat(again.pull()).isSameAs(first.pull());
        assertThat(first.pull().id()).matches("pull_[0-9a-f]{24}");
        assertThat(pulls.running("wan2.1-t2v-1.3b")).containsSame(first.pull());

        List<PullEvent> live = new CopyOnWriteArrayList<>();
        assertThat(await(first.pull(), live)).isNull();
        assertThat(first.pull().state()).isEqualTo(ModelPulls.Pull.State.SUCCEEDED);
        assertThat(pulledOn).containsExactly("wan2.1-t2v-1.3b@kaze-pull-wan2.1-t2v-1.3b");
        assertThat(pulls.running("wan2.1-t2v-1.3b")).isEmpty();
        assertThat(live.stream().filter(e -> e instanceof PullEvent.FileDone).count()).isEqualTo(5);
        assertThat(live.getLast()).isInstanceOf(PullEvent.BundleDone.class);
        assertThat(BundleStatus.of(bundle, pulls.paths()).ready()).isTrue();
        assertThat(Files.readAllBytes(dir.resolve("models/wan2.1-t2v-1.3b/diffusion_pytorch_model.safetensors")))
                .isEqualTo(FakeHub.bytes(50_000, 1));

        // a late subscriber gets the events again, each file's progress as its latest only, then the end
        List<PullEvent> late = new CopyOnWriteArrayList<>();
        assertThat(await(first.pull(), late)).isNull();
        assertThat(late.stream().filter(e -> !(e instanceof PullEvent.FileProgress)).toList())
                .isEqualTo(live.stream().filter(e -> !(e instanceof PullEvent.FileProgress)).toList());
        assertThat(late.stream().filter(e -> e instanceof PullEvent.FileProgress p
                && p.file().endsWith("diffusion_pytorch_model.safetensors")).toList())
                .hasSize(1).first().satisfies(e -> assertThat(((PullEvent.FileProgress) e).doneBytes()).isEqualTo(50_000));
        assertThat(pulls.get(first.pull().id())).containsSame(first.pull());

        // once ended, asking again starts a new pull (which finds the verified files in place)
        ModelPulls.Started next = pulls.start(bundle);
        assertThat(next.started()).isTrue();
        assertThat(next.pull().id()).isNotEqualTo(first.pull().id());
        List<PullEvent> second = new CopyOnWriteArrayList<>();
        assertThat(await(next.pull(), second)).isNull();
        assertThat(second.stream().filter(e -> e instanceof PullEvent.FileDone d && d.downloaded()).toList()).isEmpty();
    }

    @Test
    void aFailedPullEndsWithItsProblemAndDoesNotReload() throws Exception {
        ModelPulls pulls = pulls(URI.create("http://127.0.0.1:1"));
        ModelPulls.Started s = pulls.start(Catalog.find("wan2.1-t2v-1.3b").orElseThrow());
        PullException error = await(s.pull(), new CopyOnWriteArrayList<>());
        assertThat(error).isNotNull();
        assertThat(error.getMessage()).contains("cannot reach http://127.0.0.1:1");
        assertThat(s.pull().state()).isEqualTo(ModelPulls.Pull.State.FAILED);
        assertThat(s.pull().error()).isSameAs(error);
        assertThat(pulledOn).isEmpty();
        assertThat(pulls.running("wan2.1-t2v-1.3b")).isEmpty();
    }
}
