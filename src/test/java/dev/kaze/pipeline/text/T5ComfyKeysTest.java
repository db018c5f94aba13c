package dev.kaze.pipeline.text;

import dev.kaze.tensor.DType;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fixture encoder stored under HF/ComfyUI umT5 key names (spec §4.7) must build the same model. */
class T5ComfyKeysTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);
    private static final Path FIXTURES = Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity"));
    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\.(.+)");

    /** Wan name → HF/ComfyUI name, written from the table of spec §4.7. */
    static String hfName(String wan) {
        if (wan.equals("token_embedding.weight")) return "shared.weight";
        if (wan.equals("norm.weight")) return "encoder.final_layer_norm.weight";
        Matcher m = BLOCK.matcher(wan);
        if (!m.matches()) throw new IllegalArgumentException("not a T5 key: " + wan);
        String p = "encoder.block." + m.group(1) + ".";
        return p + switch (m.group(2)) {
            case "norm1.weight" -> "layer.0.layer_norm.weight";
            case "attn.q.weight" -> "layer.0.SelfAttention.q.weight";
            case "attn.k.weight" -> "layer.0.SelfAttention.k.weight";
            case "attn.v.weight" -> "layer.0.SelfAttention.v.weight";
            case "attn.o.weight" -> "layer.0.SelfAttention.o.weight";
            case "pos_embedding.embedding.weight" -> "layer.0.SelfAttention.relative_attention_bias.weight";
            case "norm2.weight" -> "layer.1.layer_norm.weight";
            case "ffn.gate.0.weight" -> "layer.1.DenseReluDense.wi_0.weight";
            case "ffn.fc1.weight" -> "layer.1.DenseReluDense.wi_1.weight";
            case "ffn.fc2.weight" -> "layer.1.DenseReluDense.wo.weight";
            default -> throw new IllegalArgumentException("not a T5 key: " + wan);
        };
    }

    /** A minimal safetensors writer: name → (dtype, shape, bytes); no metadata. */
    static void writeSafetensors(Path file, Map<String, Object[]> tensors) throws IOException {
        ObjectNode header = JsonMapper.builder().build().createObjectNode();
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (var e : tensors.entrySet()) {
            DType dtype = (DType) e.getValue()[0];
            long[] shape = (long[]) e.getValue()[1];
            byte[] bytes = (byte[]) e.getValue()[2];
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", dtype.code());
            var s = t.putArray("shape");
            for (long d : shape) s.add(d);
            var off = t.putArray("data_offsets");
            off.add(data.size());
            data.write(bytes);
            off.add(data.size());
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(len.array());
        out.write(h);
        data.writeTo(out);
        Files.write(file, out.toByteArray());
    }

    /** The fixture's tensors under HF names, plus the tokenizer blob and the tied embedding copy. */
    private static Path hfCopy(Path dir, Map<String, String> rename) throws IOException {
        Map<String, Object[]> tensors = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(FIXTURES.resolve("t5.safetensors"))) {
            for (var e : f.entries().values()) {
                byte[] bytes = f.bytes(e.name()).toArray(ValueLayout.JAVA_BYTE);
                Object[] t = {e.spec().dtype(), e.spec().shape(), bytes};
                String name = rename.getOrDefault(e.name(), hfName(e.name()));
                tensors.put(name, t);
                if (e.name().equals("token_embedding.weight")) tensors.put("encoder.embed_tokens.weight", t);
            }
        }
        tensors.put("spiece_model", new Object[]{DType.U8, new long[]{5}, new byte[]{10, 20, 30, 40, 50}});
        Path file = dir.resolve("umt5_tiny_comfy.safetensors");
        writeSafetensors(file, tensors);
        return file;
    }

    @Test
    void hfNamesGiveTheSameOutputAsWanNames(@TempDir Path dir) throws IOException {
        Path comfy = hfCopy(dir, Map.of());
        try (PointerScope ignored = new PointerScope();
             SafetensorsFile c = SafetensorsFile.open(FIXTURES.resolve("cases/t5_encode.safetensors"));
             T5Encoder wan = T5EncoderLoader.open(FIXTURES.resolve("t5.safetensors"), CPU, torch.ScalarType.Float);
             T5Encoder hf = T5EncoderLoader.open(comfy, CPU, torch.ScalarType.Float)) {
            // the HF copy has no config metadata: the config read off its shapes must match the fixture's
            assertEquals(wan.config(), hf.config());
            Tensor ids = c.tensor("ids"), mask = c.tensor("mask");
            Tensor expected = wan.encode(ids, mask), actual = hf.encode(ids, mask);
            assertTrue(actual.equal(expected), "HF-named weights must give exactly the Wan-named output");
            assertTrue(hf.encodeTrimmed(ids, mask).equal(wan.encodeTrimmed(ids, mask)));
        }
    }

    @Test
    void wrongShapeInHfFileNamesTheStoredKey(@TempDir Path dir) throws IOException {
        // fc1 and gate swapped with fc2's name: wo gets [48, 32] where [32, 48] is expected
        Path comfy = hfCopy(dir, Map.of("blocks.1.ffn.fc2.weight", "encoder.block.1.layer.1.DenseReluDense.wi_0.weight",
                "blocks.1.ffn.gate.0.weight", "encoder.block.1.layer.1.DenseReluDense.wo.weight"));
        try (PointerScope ignored = new PointerScope()) {
            WeightsException e = assertThrows(WeightsException.class,
                    () -> T5EncoderLoader.open(comfy, CPU, torch.ScalarType.Float).close());
            assertTrue(e.getMessage().contains("encoder.block.1.layer.1.DenseReluDense.wo.weight"), e.getMessage());
            assertTrue(e.getMessage().contains(comfy.toString()), e.getMessage());
        }
    }

    @Test
    void scaledFp8FileIsRefusedWithAReason(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("umt5_xxl_fp8_e4m3fn_scaled.safetensors");
        Map<String, Object[]> tensors = new LinkedHashMap<>();
        tensors.put("scaled_fp8", new Object[]{DType.F8_E4M3, new long[]{0}, new byte[0]});
        tensors.put("shared.weight", new Object[]{DType.F32, new long[]{1}, new byte[4]});
        writeSafetensors(file, tensors);
        WeightsException e = assertThrows(WeightsException.class,
                () -> T5EncoderLoader.open(file, CPU, torch.ScalarType.Float).close());
        assertTrue(e.getMessage().contains("scaled_fp8") && e.getMessage().contains(file.toString()), e.getMessage());
    }
}
