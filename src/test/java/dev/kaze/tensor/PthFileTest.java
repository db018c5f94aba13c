package dev.kaze.tensor;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The torch.save fixtures hold the same tensors as their safetensors twins (see the fixtures' README). */
class PthFileTest {
    static Path parityDir() {
        return Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity")).toAbsolutePath().normalize();
    }

    @Test
    void t5PthHoldsTheSafetensorsWeightsCastToBf16() {
        compare(parityDir().resolve("t5_bf16.pth"), parityDir().resolve("t5.safetensors"), ScalarType.BFloat16);
    }

    @Test
    void vaePthHoldsExactlyTheSafetensorsWeights() {
        compare(parityDir().resolve("vae.pth"), parityDir().resolve("vae.safetensors"), null);
    }

    /** Every key of both files, each tensor bit-identical to the safetensors one (cast to {@code cast} when given). */
    private static void compare(Path pth, Path safetensors, ScalarType cast) {
        assertTrue(Files.isRegularFile(pth), "fixture missing: " + pth);
        try (PointerScope scope = new PointerScope();
             PthFile p = PthFile.open(pth);
             SafetensorsFile s = SafetensorsFile.open(safetensors)) {
            assertEquals(s.entries().keySet(), p.keys(), "the same keys");
            assertTrue(p.keys().size() > 10, "a real state dict");
            List<String> keysInOrder = new ArrayList<>(p.keys());
            assertEquals(keysInOrder, new ArrayList<>(p.keys()), "a stable order");
            for (String key : p.keys()) {
                TensorSpec stored = s.entries().get(key).spec();
                TensorSpec spec = p.spec(key);
                DType expectedDtype = cast == null ? stored.dtype() : DType.of(cast);
                assertEquals(new TensorSpec(expectedDtype, stored.shape()), spec, key);
                assertEquals(p.path().toString(), p.origin(key));

                Tensor actual = p.load(key);
                assertEquals(expectedDtype.scalarType().value, actual.scalar_type().value, key + ": dtype");
                assertArrayEquals(stored.shape(), actual.sizes().vec().get(), key);
                assertTrue(actual.is_contiguous(), key);
                Tensor expected = s.tensor(key);
                if (cast != null) expected = expected.to(cast);
                assertEquals(-1, raw(expected, spec).mismatch(raw(actual, spec)), key + ": bit-identical values");
            }
        }
    }

    static MemorySegment raw(Tensor t, TensorSpec spec) {
        return MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(spec.byteSize());
    }
}
