package dev.kaze.pipeline.text;

import dev.kaze.tensor.SafetensorsFile;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Behaviour around the parity case: padding, batching and input checks. */
class T5EncoderTest {
    private static final Path FIXTURES = Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity"));
    private static final Device CPU = new Device(torch.DeviceType.CPU);

    private static T5Encoder encoder() {
        return T5EncoderLoader.open(FIXTURES.resolve("t5.safetensors"), CPU, torch.ScalarType.Float);
    }

    @Test
    void unpaddedRunGivesTheRealTokenRows() {
        // spec §4.6: only keys are masked and the bias is relative, so the real tokens alone give the same rows
        try (PointerScope ignored = new PointerScope(); T5Encoder e = encoder();
             SafetensorsFile c = SafetensorsFile.open(FIXTURES.resolve("cases/t5_encode.safetensors"))) {
            Tensor ids = c.tensor("ids"), mask = c.tensor("mask");
            long n = mask.sum().item_long();
            Tensor out = e.encode(ids.narrow(1, 0, n), mask.narrow(1, 0, n)).select(0, 0);
            assertTrue(torch.allclose(out, c.tensor("expected_trimmed"), 0, 1e-4, false));
        }
    }

    @Test
    void batchRowsAreIndependent() {
        try (PointerScope ignored = new PointerScope(); T5Encoder e = encoder();
             SafetensorsFile c = SafetensorsFile.open(FIXTURES.resolve("cases/t5_encode.safetensors"))) {
            Tensor ids = c.tensor("ids"), mask = c.tensor("mask");
            // second row: a different prompt with a longer mask
            Tensor ids2 = ids.add(new Scalar(3L)).remainder(new Scalar(e.config().vocab()));
            Tensor mask2 = torch.ones_like(mask);
            Tensor out = e.encode(torch.cat(new TensorVector(ids, ids2), 0), torch.cat(new TensorVector(mask, mask2), 0));
            assertTrue(torch.allclose(out.narrow(0, 0, 1), c.tensor("expected"), 0, 1e-4, false));
            assertTrue(torch.allclose(out.narrow(0, 1, 1), e.encode(ids2, mask2), 0, 1e-5, false));
        }
    }

    @Test
    void badInputsAreRefusedWithAReason() {
        try (PointerScope ignored = new PointerScope(); T5Encoder e = encoder()) {
            Tensor ids = torch.zeros(new long[]{1, 4}, new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long));
            Tensor mask = torch.ones_like(ids);
            var big = assertThrows(IllegalArgumentException.class, () -> e.encode(ids.add(new Scalar(300L)), mask));
            assertTrue(big.getMessage().contains("[0, 300)"), big.getMessage());
            var shape = assertThrows(IllegalArgumentException.class, () -> e.encode(ids, mask.narrow(1, 0, 3)));
            assertTrue(shape.getMessage().contains("mask shape"), shape.getMessage());
            e.close();
            assertThrows(IllegalStateException.class, () -> e.encode(ids, mask));
        }
    }
}
