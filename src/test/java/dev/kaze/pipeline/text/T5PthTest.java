package dev.kaze.pipeline.text;

import dev.kaze.parity.ParityCase;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The encoder built from the official-format t5_bf16.pth equals the one built from t5.safetensors cast to bf16. */
class T5PthTest {
    static final Path DIR = Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity"));

    @Test
    void pthAndSafetensorsGiveTheSameEncoder() {
        Device cpu = new Device(torch.DeviceType.CPU);
        try (PointerScope scope = new PointerScope();
             ParityCase c = ParityCase.open(DIR.resolve("cases/t5_encode.safetensors"));
             T5Encoder fromPth = T5EncoderLoader.open(DIR.resolve("t5_bf16.pth"), cpu, torch.ScalarType.Float);
             T5Encoder fromSafetensors = T5EncoderLoader.open(DIR.resolve("t5.safetensors"), cpu, torch.ScalarType.BFloat16)) {
            // the .pth holds bf16 values; the safetensors file float32: cast to bf16 they are the same weights,
            // so computing both in bf16 must give identical outputs
            try (T5Encoder pthBf16 = T5EncoderLoader.open(DIR.resolve("t5_bf16.pth"), cpu, torch.ScalarType.BFloat16)) {
                Tensor a = pthBf16.encode(c.tensor("ids"), c.tensor("mask"));
                Tensor b = fromSafetensors.encode(c.tensor("ids"), c.tensor("mask"));
                assertThat(torch.equal(a, b)).isTrue();
            }
            // and the bf16 weights computed in float32 stay close to the float32 reference
            ParityCase.assertClose("t5 from .pth", fromPth.encode(c.tensor("ids"), c.tensor("mask")), c.tensor("expected"), 0.05, 0.05);
        }
    }
}
