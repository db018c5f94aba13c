package dev.kaze.parity;

import dev.kaze.pipeline.text.T5Encoder;
import dev.kaze.pipeline.text.T5EncoderLoader;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * t5_encode: ids [1,L] and mask [1,L] through the encoder built from the case's weights file
 * (config from its metadata); checks all rows against expected [1,L,dim] and the real-token
 * rows against expected_trimmed [seq,dim].
 */
final class T5EncodeKind implements ParityKind {
    @Override public void check(ParityCase c) {
        try (T5Encoder encoder = T5EncoderLoader.open(c.fixture("weights"), new Device(torch.DeviceType.CPU),
                torch.ScalarType.Float)) {
            Tensor ids = c.tensor("ids"), mask = c.tensor("mask");
            c.assertClose("T5 encoder output (all rows)", encoder.encode(ids, mask), c.tensor("expected"));
            long seqLen = mask.sum().item_long();
            Tensor expectedTrimmed = c.has("expected_trimmed") ? c.tensor("expected_trimmed")
                    : c.tensor("expected").select(0, 0).narrow(0, 0, seqLen);
            c.assertClose("T5 encoder output (real-token rows)", encoder.encodeTrimmed(ids, mask), expectedTrimmed);
        }
    }
}
