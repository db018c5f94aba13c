package dev.kaze.pipeline.lora;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/** A small float32 safetensors file written byte by byte, for LoRAs the fixtures do not cover. */
final class CraftedLora {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    CraftedLora put(String name, Tensor t) {
        tensors.put(name, t.to(ScalarType.Float).contiguous());
        return this;
    }

    Path write(Path file) throws IOException {
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (var e : tensors.entrySet()) {
            long n = e.getValue().numel() * 4;
            String shape = Arrays.stream(e.getValue().sizes().vec().get()).mapToObj(Long::toString).collect(Collectors.joining(","));
            if (header.length() > 1) header.append(',');
            header.append('"').append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":[").append(shape)
                    .append("],\"data_offsets\":[").append(offset).append(',').append(offset + n).append("]}");
            offset += n;
        }
        header.append('}');
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h);
        for (Tensor t : tensors.values()) {
            long n = t.numel() * 4;
            if (n > 0) out.put(MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(n).toArray(ValueLayout.JAVA_BYTE));
        }
        Files.write(file, out.array());
        return file;
    }
}
