package dev.kaze.training;

import dev.kaze.tensor.SafetensorsWriter;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The two hashes musubi-tuner (kohya's {@code utils/model_utils.py precalculate_safetensors_hashes}) writes into
 * every LoRA for sd-webui-additional-networks, over the file as it would be with only the {@code ss_*} metadata:
 * {@code sshs_model_hash}, the SHA-256 (hex) of everything after the header (the tensor data), and
 * {@code sshs_legacy_hash}, the first 8 hex digits of the SHA-256 of the 64 KiB at offset 1 MiB (of nothing when
 * the file is shorter). The tensor data, and so the model hash, does not depend on the metadata; the legacy hash
 * depends on the header's length, which safetensors' own serialisation may not share byte for byte.
 */
record LoraHashes(String modelHash, String legacyHash) {
    private static final long LEGACY_OFFSET = 0x100000, LEGACY_LENGTH = 0x10000;

    /** The metadata keys. */
    static final String MODEL_KEY = "sshs_model_hash", LEGACY_KEY = "sshs_legacy_hash";

    /** Hashes tensors as they will be written, with the ss_* entries of metadata, by serialising them beside file. */
    static LoraHashes of(Map<String, Tensor> tensors, Map<String, String> metadata, Path file) {
        Map<String, String> ss = new LinkedHashMap<>();
        metadata.forEach((k, v) -> { if (k.startsWith("ss_")) ss.put(k, v); });
        Path tmp = file.toAbsolutePath().resolveSibling("." + file.getFileName() + ".hash.tmp");
        try {
            SafetensorsWriter.write(tmp, tensors, ss);
            return of(tmp);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a leftover temporary file is harmless; the hashes are what matter
            }
        }
    }

    /** The hashes of a safetensors file as it is. */
    static LoraHashes of(Path safetensors) {
        try (InputStream in = Files.newInputStream(safetensors)) {
            byte[] len = in.readNBytes(8);
            if (len.length < 8) throw new IOException("shorter than a safetensors header");
            long headerLength = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
            MessageDigest data = sha256(), legacy = sha256();
            long pos = 8;
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; pos += n) {
                long dataFrom = Math.max(pos, 8 + headerLength);
                if (dataFrom < pos + n) data.update(buf, (int) (dataFrom - pos), (int) (pos + n - dataFrom));
                long from = Math.max(pos, LEGACY_OFFSET), to = Math.min(pos + n, LEGACY_OFFSET + LEGACY_LENGTH);
                if (from < to) legacy.update(buf, (int) (from - pos), (int) (to - from));
            }
            return new LoraHashes(HexFormat.of().formatHex(data.digest()), HexFormat.of().formatHex(legacy.digest()).substring(0, 8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot hash " + safetensors.getFileName() + ": " + e.getMessage(), e);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
