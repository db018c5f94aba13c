package dev.kaze.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProgressTest {
    @TempDir Path dir;

    @Test
    void eventsComeInOrderPerFileThenTheBundle() throws IOException {
        try (FakeHub fake = new FakeHub()) {
            fake.put("kaze/tiny", "a.safetensors", FakeHub.bytes(4000, 1));
            fake.put("kaze/tiny", "b.json", "{}".getBytes());
            Bundle bundle = new Bundle("tiny", "two files", Bundle.Kind.MODEL, List.of(
                    new Bundle.Part(new Bundle.HubFile("kaze/tiny", "main", "a.safetensors"), "a.safetensors", false),
                    new Bundle.Part(new Bundle.HubFile("kaze/tiny", "main", "b.json"), "sub/b.json", false)));
            HttpGet http = HttpGet.create();
            Puller puller = new Puller(new HubClient(fake.endpoint(), null, http), new CivitaiClient(fake.endpoint(), null, http),
                    new Downloader(http, FreeSpace.DISK, 1, Duration.ZERO), new ModelPaths(dir, dir.resolve("loras")));
            List<PullEvent> events = new ArrayList<>();
            puller.pull(bundle, events::add);

            List<String> kinds = events.stream().map(e -> e.getClass().getSimpleName()).toList();
            assertEquals(List.of("FileStarted", "FileProgress", "FileVerified", "FileDone",
                    "FileStarted", "FileProgress", "FileVerified", "FileDone", "BundleDone"), kinds);
            PullEvent.FileStarted start = (PullEvent.FileStarted) events.get(0);
            assertEquals("kaze/tiny@main:a.safetensors", start.file());
            assertEquals(dir.resolve("tiny/a.safetensors"), start.target());
            assertEquals(4000, start.totalBytes());
            PullEvent.FileProgress progress = (PullEvent.FileProgress) events.get(1);
            assertEquals(4000, progress.doneBytes());
            assertEquals(4000, progress.totalBytes());
            assertEquals("git-sha1", ((PullEvent.FileVerified) events.get(6)).algorithm());
            PullEvent.BundleDone done = assertInstanceOf(PullEvent.BundleDone.class, events.get(8));
            assertEquals(new PullEvent.BundleDone("tiny", dir.resolve("tiny"), 2, 4002), done);

            events.clear();
            puller.pull(bundle, events::add);
            assertEquals(List.of("FileDone", "FileDone", "BundleDone"), events.stream().map(e -> e.getClass().getSimpleName()).toList());
        }
    }

    static final Path TARGET = Path.of("/models/wan/diffusion_pytorch_model.safetensors");
    static final List<PullEvent> SCRIPT = List.of(
            new PullEvent.FileStarted("Wan-AI/x@main:diffusion_pytorch_model.safetensors", TARGET, 100_000_000, 0),
            new PullEvent.FileProgress("f", 5_000_000, 100_000_000, 10_000_000),
            new PullEvent.FileProgress("f", 25_000_000, 100_000_000, 10_000_000),
            new PullEvent.FileProgress("f", 26_000_000, 100_000_000, 10_000_000),
            new PullEvent.FileProgress("f", 100_000_000, 100_000_000, 12_500_000),
            new PullEvent.FileVerified("f", "sha256", "0123456789abcdef".repeat(4)),
            new PullEvent.FileDone("f", TARGET, 100_000_000, true),
            new PullEvent.BundleDone("wan", TARGET.getParent(), 1, 100_000_000));

    static String render(boolean interactive) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        TerminalProgress progress = new TerminalProgress(new PrintStream(bytes, true, StandardCharsets.UTF_8), interactive);
        SCRIPT.forEach(progress::on);
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void plainLinesWhenNotATerminal() {
        String out = render(false);
        assertFalse(out.contains("\r"));
        List<String> lines = out.lines().toList();
        assertEquals("downloading diffusion_pytorch_model.safetensors (100.0 MB) from Wan-AI/x@main:diffusion_pytorch_model.safetensors", lines.get(0));
        assertTrue(lines.get(1).matches("diffusion_pytorch_model\\.safetensors +25%  25\\.0 MB / 100\\.0 MB  10\\.0 MB/s  ETA 0:07"), lines.get(1));
        assertTrue(lines.get(2).contains("verified sha256 0123456789ab…"), lines.get(2));
        assertTrue(lines.get(3).endsWith("done, 100.0 MB"), lines.get(3));
        assertEquals("wan: 1 file(s), 100.0 MB in " + TARGET.getParent(), lines.get(4));
        assertEquals(5, lines.size(), "5% and 26% are below or within the tenth already shown: " + lines);
    }

    @Test
    void oneRedrawnLineOnATerminal() {
        String out = render(true);
        String[] lines = out.split("\n");
        assertEquals(2, lines.length);
        String bar = lines[0];
        assertEquals(6, bar.chars().filter(c -> c == '\r').count());
        assertTrue(bar.contains("  5%  5.0 MB / 100.0 MB  10.0 MB/s  ETA 0:09"), bar);
        assertTrue(bar.contains("100%  100.0 MB / 100.0 MB  12.5 MB/s  ETA 0:00"), bar);
        String last = bar.substring(bar.lastIndexOf('\r') + 1);
        assertTrue(last.strip().endsWith("done, 100.0 MB"), last);
        assertTrue(last.length() >= bar.substring(bar.lastIndexOf('\r', bar.lastIndexOf('\r') - 1) + 1, bar.lastIndexOf('\r')).length(),
                "a shorter line is padded over the longer one before it");
        assertEquals("1:01:01", TerminalProgress.clock(3661));
    }
}
