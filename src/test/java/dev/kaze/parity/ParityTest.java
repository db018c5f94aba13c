package dev.kaze.parity;

import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One dynamic test per case file in {@code kaze.parity.dir}/cases (default ../shared/fixtures/wan-parity),
 * each checked with its own tolerance and parameters from its metadata. Kinds not built yet are
 * reported as skipped, never as passed.
 */
class ParityTest {
    /** Every kind Kaze checks, by the metadata "kind" value. */
    static final Map<String, ParityKind> KINDS = new HashMap<>();

    static {
        // one line per kind
        KINDS.put("dit_forward", new DitForwardKind());
        KINDS.put("dit_nag_forward", new DitForwardKind());
        KINDS.put("unipc_schedule", new UnipcScheduleKind());
        KINDS.put("sample", new SampleKind());
        KINDS.put("dit_lora_forward", new LoraForwardKind());
        KINDS.put("t5_encode", new T5EncodeKind());
        KINDS.put("vae_encode", new VaeEncodeKind());
        KINDS.put("vae_decode", new VaeDecodeKind());
        KINDS.put("pipeline_frames", new PipelineFramesKind());
        KINDS.put("train_step", new TrainStepKind());
    }

    static Path parityDir() {
        return Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity")).toAbsolutePath().normalize();
    }

    /** The case files whose kind is one of kinds, in name order. */
    static List<Path> casesOf(java.util.Set<String> kinds) throws IOException {
        Path cases = parityDir().resolve("cases");
        assertTrue(Files.isDirectory(cases), "parity fixtures not found at " + cases + " (set -Dkaze.parity.dir)");
        List<Path> out = new java.util.ArrayList<>();
        try (var files = Files.list(cases)) {
            for (Path p : files.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList()) {
                try (ParityCase c = ParityCase.open(p)) {
                    if (kinds.contains(c.kind())) out.add(p);
                }
            }
        }
        return out;
    }

    @TestFactory
    Stream<DynamicTest> cases() throws IOException {
        Path cases = parityDir().resolve("cases");
        assertTrue(Files.isDirectory(cases), "parity fixtures not found at " + cases + " (set -Dkaze.parity.dir)");
        try (var files = Files.list(cases)) {
            return files.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList().stream()
                    .map(p -> DynamicTest.dynamicTest(p.getFileName().toString(), () -> run(p)));
        }
    }

    private static void run(Path file) throws Exception {
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(file)) {
            ParityKind kind = KINDS.get(c.kind());
            Assumptions.assumeTrue(kind != null, "parity kind '" + c.kind() + "' is not built yet");
            kind.check(c);
        }
    }
}
