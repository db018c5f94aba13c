package dev.kaze.parity;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.tensor.WeightStorage.Format;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The DiT parity cases (dit_forward, dit_nag_forward, dit_lora_forward, sample) with 0, 1 and all
 * blocks swapped to host memory, in float32 and float8 storage: the outputs are bit-identical
 * (torch.equal) across swap counts, and the unswapped one meets the case's own tolerance.
 */
class BlockSwapParityTest {
    private static final Set<String> KINDS = Set.of("dit_forward", "dit_nag_forward", "dit_lora_forward", "sample");
    private static final List<WeightStorage> STORAGES = List.of(WeightStorage.COMPUTE,
            WeightStorage.perTensor(Format.FP8_E4M3), WeightStorage.blockwise(Format.FP8_E4M3, 16));

    @TestFactory
    Stream<DynamicTest> cases() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path p : ParityTest.casesOf(KINDS))
            for (WeightStorage s : STORAGES)
                tests.add(DynamicTest.dynamicTest(p.getFileName() + " [" + s + "]", () -> run(p, s)));
        assertTrue(tests.size() >= 4 * STORAGES.size(), "expected the four DiT kinds among the cases");
        return tests.stream();
    }

    private static void run(Path file, WeightStorage storage) {
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(file);
             Checkpoint ckpt = Checkpoint.open(c.fixture("weights"));
             LoraForwardKind.Merged merged = LoraForwardKind.withLoras(c, ckpt)) {
            DitConfig cfg = DitForwardKind.config(c.fixtureDir(), ckpt);
            int all = cfg.numLayers();
            assertThat(all).as("the fixture DiT has more than one block, so 1 and all differ").isGreaterThan(1);
            Tensor base = null;
            for (int swap : new int[]{0, 1, all}) {
                try (WanDit dit = WanDit.load(cfg, merged.source(), new Device(torch.DeviceType.CPU), new DitOptions(torch.ScalarType.Float, storage, swap))) {
                    assertThat(dit.blocksSwapped()).isEqualTo(swap);
                    Tensor out = forward(c, dit);
                    if (base == null) {
                        base = out;
                        if (!storage.isFloat8()) ParityCase.assertClose(c.name(), out, c.tensor("expected"), c.atol(), c.rtol());
                    } else {
                        assertThat(torch.equal(out, base)).as(c.name() + " [" + storage + "] swap " + swap + " equals swap 0 bit for bit").isTrue();
                    }
                }
            }
        }
    }

    private static Tensor forward(ParityCase c, WanDit dit) {
        if (c.kind().equals("sample")) return SampleKind.sample(c, dit, (step, total, seconds) -> {}, () -> false);
        Tensor context = dit.embedContext(c.tensor("context"));
        var nag = DitForwardKind.nag(c);
        Tensor nagContext = nag == null ? null : dit.embedContext(c.tensor("negative_context"));
        return dit.forward(c.tensor("x").unsqueeze(0), c.tensor("t"), context, nagContext, nag).squeeze(0);
    }
}
