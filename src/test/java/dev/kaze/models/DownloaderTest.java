package dev.kaze.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DownloaderTest {
    static final String REPO = "kaze/test";
    static final byte[] DATA = FakeHub.bytes(40_000, 9);

    @TempDir Path dir;
    FakeHub fake;
    HubClient hub;
    final List<PullEvent> events = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        fake = new FakeHub();
        fake.put(REPO, "weights.safetensors", DATA);
        hub = new HubClient(fake.endpoint(), null, HttpGet.create());
    }

    @AfterEach
    void stop() { fake.close(); }

    Downloader downloader(int attempts) { return new Downloader(HttpGet.create(), FreeSpace.DISK, attempts, Duration.ofMillis(10)); }

    RemoteFile file() { return hub.file(REPO, "main", "weights.safetensors"); }

    Path target() { return dir.resolve("weights.safetensors"); }

    @Test
    void aCutConnectionIsResumedWithRange() throws IOException {
        fake.cutsLeft.set(1);
        fake.cutAfterBytes = 15_000;
        PullEvent.FileDone done = downloader(3).fetch(file(), target(), events::add);
        assertTrue(done.downloaded());
        assertArrayEquals(DATA, Files.readAllBytes(target()));
        assertEquals(2, fake.cdnRequests.size());
        assertNull(fake.cdnRequests.get(0).range());
        String resume = fake.cdnRequests.get(1).range();
        assertTrue(resume.startsWith("bytes=") && !resume.equals("bytes=0-"), resume);
        List<PullEvent.FileStarted> starts = events.stream().filter(e -> e instanceof PullEvent.FileStarted).map(e -> (PullEvent.FileStarted) e).toList();
        assertEquals(0, starts.get(0).resumedFrom());
        assertEquals(Long.parseLong(resume.substring(6, resume.length() - 1)), starts.get(1).resumedFrom());
        assertFalse(Files.exists(Sidecar.partOf(target())));
    }

    @Test
    void aLaterPullResumesThePartialFileOfAnInterruptedOne() throws IOException {
        fake.cutsLeft.set(1);
        fake.cutAfterBytes = 25_000;
        PullException e = assertThrows(PullException.class, () -> downloader(1).fetch(file(), target(), events::add));
        assertTrue(e.getMessage().contains("run the pull again to resume"), e.getMessage());
        assertFalse(Files.exists(target()), "nothing under the real name");
        long kept = Files.size(Sidecar.partOf(target()));
        assertTrue(kept > 0 && kept <= 25_000, "kept " + kept);

        downloader(1).fetch(file(), target(), events::add);     // as after a restart: a new Downloader
        assertEquals("bytes=" + kept + "-", fake.cdnRequests.get(1).range());
        assertArrayEquals(DATA, Files.readAllBytes(target()));
        assertEquals(FakeHub.sha256(DATA), Sidecar.read(target()).hash());
    }

    @Test
    void aServerIgnoringRangeRestartsFromZero() throws IOException {
        Files.createDirectories(Sidecar.workDir(target()));
        Files.write(Sidecar.partOf(target()), new byte[] {1, 2, 3});        // a stale partial file
        fake.ignoreRange = true;
        downloader(1).fetch(file(), target(), events::add);
        assertEquals("bytes=3-", fake.cdnRequests.get(0).range());
        assertArrayEquals(DATA, Files.readAllBytes(target()));
    }

    @Test
    void aCompletePartialFileIsFinishedWithout416Trouble() throws IOException {
        Files.createDirectories(Sidecar.workDir(target()));
        Files.write(Sidecar.partOf(target()), DATA);
        downloader(1).fetch(file(), target(), events::add);
        assertArrayEquals(DATA, Files.readAllBytes(target()));
    }

    @Test
    void aCorruptDownloadIsRemovedAndFetchedOnceMore() throws IOException {
        fake.corruptionsLeft.set(1);
        downloader(1).fetch(file(), target(), events::add);
        assertArrayEquals(DATA, Files.readAllBytes(target()));
        assertEquals(2, fake.cdnRequests.size());
        assertNull(fake.cdnRequests.get(1).range(), "the second download starts from zero");
    }

    @Test
    void aPersistentlyCorruptServerFailsClearlyAndLeavesNothing() {
        fake.corruptionsLeft.set(Integer.MAX_VALUE);
        PullException e = assertThrows(PullException.class, () -> downloader(3).fetch(file(), target(), events::add));
        assertInstanceOf(PullException.HashMismatch.class, e);
        assertTrue(e.getMessage().contains("downloaded twice and both times the bytes do not match the published sha256 (expected "
                + FakeHub.sha256(DATA)), e.getMessage());
        assertEquals(2, fake.cdnRequests.size());
        assertFalse(Files.exists(target()));
        assertFalse(Files.exists(Sidecar.partOf(target())));
        assertTrue(events.stream().noneMatch(ev -> ev instanceof PullEvent.FileVerified || ev instanceof PullEvent.FileDone));
    }

    @Test
    void concurrentPullsOfOneFileDownloadItOnce() throws Exception {
        fake.chunkDelayMillis = 30;
        int n = 4;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<PullEvent.FileDone>> results = new ArrayList<>();
        for (int i = 0; i < n; i++)
            results.add(pool.submit(() -> {
                go.await();
                return downloader(1).fetch(file(), target(), events::add);
            }));
        go.countDown();
        int downloaded = 0;
        for (Future<PullEvent.FileDone> f : results) if (f.get().downloaded()) downloaded++;
        pool.shutdown();
        assertEquals(1, downloaded);
        assertEquals(1, fake.cdnRequests.size());
        assertArrayEquals(DATA, Files.readAllBytes(target()));
        assertTrue(Files.exists(Sidecar.lockOf(target())));
    }

    @Test
    void aPullInAnotherProcessIsWaitedForAndReused() throws Exception {
        fake.chunkDelayMillis = 80;
        String java = ProcessHandle.current().info().command().orElse("java");
        Process other = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), OtherProcessPull.class.getName(),
                fake.endpoint().toString(), REPO, "weights.safetensors", target().toString()).redirectErrorStream(true).start();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(other.getInputStream(), StandardCharsets.UTF_8))) {
            String first = lines.readLine();
            assertEquals("started", first, "the other process failed to start its pull");
            PullEvent.FileDone done = downloader(1).fetch(file(), target(), events::add);   // waits on the other's file lock
            assertFalse(done.downloaded(), "the other process's verified file is reused");
            assertEquals("downloaded", lines.readLine());
        } finally {
            other.destroy();
        }
        assertTrue(other.waitFor(30, TimeUnit.SECONDS));
        assertEquals(1, fake.cdnRequests.size());
        assertArrayEquals(DATA, Files.readAllBytes(target()));
    }

    @Test
    void noSpaceLeftMidWriteSaysWhatToDo() {
        PullException e = Downloader.writeFailure(new IOException("No space left on device"), file(), target(), 12_345_678);
        assertInstanceOf(PullException.DiskFull.class, e);
        assertTrue(e.getMessage().contains("the disk holding " + dir + " is full"), e.getMessage());
        assertTrue(e.getMessage().contains("12.3 MB more are needed"), e.getMessage());
        assertTrue(e.getMessage().contains("free some space and run the pull again to resume"), e.getMessage());
    }

    @Test
    void diskFullBeforeAResumeCountsOnlyTheMissingBytes() throws IOException {
        Files.createDirectories(Sidecar.workDir(target()));
        Files.write(Sidecar.partOf(target()), Arrays.copyOf(DATA, 30_000));
        long free = 10_000 + Downloader.MARGIN;
        new Downloader(HttpGet.create(), d -> free, 1, Duration.ZERO).fetch(file(), target(), events::add);
        assertArrayEquals(DATA, Files.readAllBytes(target()));
        PullException.DiskFull e = assertThrows(PullException.DiskFull.class, () -> new Downloader(HttpGet.create(), d -> free - 1, 1, Duration.ZERO)
                .fetch(hubFile("other.safetensors", FakeHub.bytes(10_000, 3)), dir.resolve("other.safetensors"), events::add));
        assertEquals(10_000, e.needed());
        assertFalse(Files.exists(dir.resolve("other.safetensors")));
        assertFalse(Files.exists(Sidecar.partOf(dir.resolve("other.safetensors"))));
    }

    RemoteFile hubFile(String path, byte[] bytes) {
        fake.put(REPO, path, bytes);
        return new HubClient(fake.endpoint(), null, HttpGet.create()).file(REPO, "main", path);
    }
}
