package dev.kaze.training;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * TensorBoard scalars beside the step log, as musubi's {@code --log_with tensorboard} writes them, so
 * {@code tensorboard --logdir} over the training's files shows a Kaze run like a musubi one: a file
 * {@code events.out.tfevents.<unix time>.<host>} of TFRecord records (little-endian uint64 length, masked CRC32C of the
 * length, the data, masked CRC32C of the data), each a serialised {@code tensorflow.Event} protobuf: the first
 * {@code {wall_time, file_version: "brain.Event:2"}}, then {@code {wall_time, step, summary {value {tag, simple_value}}}}
 * per scalar. A resumed run opens a new file; TensorBoard reads all of a directory's files.
 */
final class TensorBoardLog {
    private final Path file;

    /** Opens a new event file in dir and writes its version record. */
    TensorBoardLog(Path dir) {
        long now = System.currentTimeMillis() / 1000;
        Path f = dir.resolve("events.out.tfevents." + now + "." + host());
        for (int i = 1; Files.exists(f); i++) f = dir.resolve("events.out.tfevents." + now + "." + host() + "." + i);
        this.file = f;
        try {
            Files.createDirectories(dir);
            Files.createFile(file);
            ByteArrayOutputStream event = new ByteArrayOutputStream();
            wallTime(event);
            bytesField(event, 3, "brain.Event:2".getBytes(StandardCharsets.UTF_8));
            record(event.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the TensorBoard log " + file.getFileName() + ": " + e.getMessage(), e);
        }
    }

    Path file() { return file; }

    /** One scalar at a step (NaN and infinities are written as they are; TensorBoard shows them as such). */
    void scalar(String tag, long step, double value) {
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        bytesField(v, 1, tag.getBytes(StandardCharsets.UTF_8));
        v.write((2 << 3) | 5);                                       // simple_value: float, fixed32
        v.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat((float) value).array());
        ByteArrayOutputStream summary = new ByteArrayOutputStream();
        bytesField(summary, 1, v.toByteArray());
        ByteArrayOutputStream event = new ByteArrayOutputStream();
        wallTime(event);
        event.write(2 << 3);                                         // step: int64, varint
        varint(event, step);
        bytesField(event, 5, summary.toByteArray());
        try {
            record(event.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to the TensorBoard log " + file.getFileName() + ": " + e.getMessage(), e);
        }
    }

    /** Appends one record (the file is opened per record, as the step log is, so nothing stays open between steps). */
    private void record(byte[] data) throws IOException {
        byte[] len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(data.length).array();
        ByteArrayOutputStream rec = new ByteArrayOutputStream(data.length + 16);
        rec.writeBytes(len);
        rec.writeBytes(le32(maskedCrc(len)));
        rec.writeBytes(data);
        rec.writeBytes(le32(maskedCrc(data)));
        try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.APPEND)) {
            rec.writeTo(out);
        }
    }

    /** TFRecord's masked CRC32C: rotate right by 15 bits, add 0xa282ead8. */
    static int maskedCrc(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + 0xa282ead8;
    }

    private static byte[] le32(int v) { return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array(); }

    private static void wallTime(ByteArrayOutputStream event) {
        event.write((1 << 3) | 1);                                   // wall_time: double, fixed64
        event.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(System.currentTimeMillis() / 1000.0).array());
    }

    private static void bytesField(ByteArrayOutputStream out, int field, byte[] value) {
        out.write((field << 3) | 2);
        varint(out, value.length);
        out.writeBytes(value);
    }

    private static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static String host() {
        try {
            String h = InetAddress.getLocalHost().getHostName();
            return h.replaceAll("[^A-Za-z0-9._-]", "_");
        } catch (IOException e) {
            return "localhost";
        }
    }
}
