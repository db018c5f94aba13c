package dev.kaze.training;

import dev.kaze.json.Json;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.SafetensorsWriter;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * On the CPU preview model: a held-out sample's validation loss is the same twice at the same weights and is reported
 * at the configured step and epoch cadence (listener, JSONL log, TensorBoard); the TensorBoard file is valid TFRecord
 * (checked with a reader written here, CRCs included) with musubi's tags; the LoRA carries kohya's sshs_* hashes.
 */
class TrainingValidationTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);
    private static WanModel model;
    private static final List<TrainingSample> samples = new ArrayList<>();

    /** 5 frames at 32×32: a square moving right (kind 0), stripes moving down (1), a ramp moving left (2). */
    private static List<RgbImage> clip(int kind) {
        return LoraTrainerTest.movingClip(kind, 5, 3);
    }

    @BeforeAll static void setUp() {
        model = WanModel.preview(null, CPU);
        try (PointerScope scope = new PointerScope(); WanPipeline pipeline = new WanPipeline(model)) {
            String[] captions = {"a yellow square slides to the right", "green stripes scroll down", "a colour ramp drifts left"};
            for (int k = 0; k < 3; k++) {
                TrainingSample s = TrainingSample.encode(pipeline, clip(k), captions[k]);
                s.latent().retainReference();
                s.context().retainReference();
                samples.add(s);
            }
        }
    }

    @AfterAll static void tearDown() {
        for (TrainingSample s : samples) { s.latent().releaseReference(); s.context().releaseReference(); }
        model.close();
    }

    private static TrainingArgs args(String extra) {
        return TrainingArgs.fromJson(Json.MAPPER.readTree("{\"network_dim\": 4, \"network_alpha\": 4, \"learning_rate\": 0.01, "
                + "\"seed\": 11, \"output_name\": \"val\", \"save_state\": true, " + extra + "}"));
    }

    record Reported(int step, int epoch, double loss) {}

    private static List<Reported> train(TrainingArgs args, Path out) {
        List<Reported> reported = new ArrayList<>();
        new LoraTrainer(model, args, samples.subList(0, 2), samples.subList(2, 3), Map.of()).train(out, new TrainingListener() {
            @Override public void onStep(int step, int max, int epoch, double loss, double avg, double lr) {}
            @Override public void onValidation(int step, int epoch, double loss) { reported.add(new Reported(step, epoch, loss)); }
        });
        return reported;
    }

    @Test void validationLossIsDeterministicAndReportedEveryNSteps(@TempDir Path out) throws Exception {
        List<Reported> reported = train(args("\"max_train_steps\": 10, \"validate_every_n_steps\": 5"), out);
        assertThat(reported).extracting(Reported::step).containsExactly(5, 10);
        assertThat(reported).extracting(Reported::epoch).containsExactly(3, 5);   // 2 samples per epoch
        assertThat(reported).allMatch(r -> Double.isFinite(r.loss()) && r.loss() > 0);
        assertThat(reported.get(0).loss()).isNotEqualTo(reported.get(1).loss());   // the weights changed between them

        // the same weights (the final state) measured again, twice: the same value as reported after step 10
        try (PointerScope scope = new PointerScope(); LoraNetwork lora = TrainingState.readNetwork(out.resolve("val-state"), model.ditConfig(), CPU)) {
            ValidationLoss v = new ValidationLoss(samples.subList(2, 3), 11, CPU);
            double a = v.measure(model.dit(List.of()), lora), b = v.measure(model.dit(List.of()), lora);
            assertThat(a).isEqualTo(b);
            assertThat(a).isCloseTo(reported.get(1).loss(), Offset.offset(1e-6 * Math.abs(a)));
        }

        // the JSONL log: ten steps and two validation lines
        List<JsonNode> lines = Files.readAllLines(out.resolve("val.log.jsonl")).stream().map(Json.MAPPER::readTree).toList();
        assertThat(lines.stream().filter(n -> n.has("validation_loss")).map(n -> n.get("step").asInt())).containsExactly(5, 10);
        assertThat(lines.stream().filter(n -> n.has("loss"))).hasSize(10);

        // TensorBoard: musubi's tags per step, loss/epoch per epoch, loss/validation at 5 and 10
        Map<String, List<long[]>> scalars = readTensorBoard(out);
        assertThat(scalars.get("loss/current")).extracting(s -> s[0]).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
        assertThat(scalars.get("loss/average")).hasSize(10);
        assertThat(scalars.get("lr/unet")).allMatch(s -> Float.intBitsToFloat((int) s[1]) == 0.01f);
        assertThat(scalars.get("loss/epoch")).extracting(s -> s[0]).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(scalars.get("loss/validation")).extracting(s -> s[0]).containsExactly(5L, 10L);
        assertThat(Float.intBitsToFloat((int) scalars.get("loss/validation").get(1)[1])).isEqualTo((float) reported.get(1).loss());
        double firstLoss = lines.getFirst().get("loss").asDouble();
        assertThat(Float.intBitsToFloat((int) scalars.get("loss/current").getFirst()[1])).isEqualTo((float) firstLoss);
    }

    @Test void validationEveryNEpochsRunsAtEpochEnds(@TempDir Path out) {
        List<Reported> reported = train(args("\"max_train_epochs\": 3, \"validate_every_n_epochs\": 1"), out);
        assertThat(reported).extracting(Reported::step).containsExactly(2, 4, 6);
        assertThat(reported).extracting(Reported::epoch).containsExactly(1, 2, 3);
    }

    @Test void theLoraCarriesKohyasHashes(@TempDir Path out) throws Exception {
        train(args("\"max_train_steps\": 2"), out);
        Path lora = out.resolve("val.safetensors");
        byte[] file = Files.readAllBytes(lora);
        long headerLength = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(file, (int) (8 + headerLength), (int) (file.length - 8 - headerLength));   // everything after the header
        Map<String, String> meta;
        try (SafetensorsFile f = SafetensorsFile.open(lora)) {
            meta = f.metadata();
        }
        assertThat(meta.get("sshs_model_hash")).isEqualTo(HexFormat.of().formatHex(sha.digest()));
        // a LoRA this small ends before 1 MiB: the legacy hash is that of no bytes (sha256 of b"")
        assertThat(file.length).isLessThan(0x100000);
        assertThat(meta.get("sshs_legacy_hash")).isEqualTo("e3b0c442");
        // musubi's other metadata as asked
        assertThat(meta).containsEntry("ss_output_name", "val").containsEntry("modelspec.title", "val").containsEntry("ss_fp8_base", "False");
    }

    @Test void theLegacyHashIsOfTheMebibyteAfterTheFirstOverTheSsMetadataOnly(@TempDir Path out) throws Exception {
        Path file = out.resolve("big.safetensors");
        try (PointerScope scope = new PointerScope(); LoraNetwork net = LoraNetwork.create(model.ditConfig(), 512, 512, 3, CPU)) {
            net.save(file, ScalarType.Float, Map.of("ss_seed", "3", "modelspec.title", "big"));
            Map<String, String> meta;
            Map<String, Tensor> tensors = new TreeMap<>();
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                meta = f.metadata();
                for (String k : f.entries().keySet()) tensors.put(k, f.tensor(k));
            }
            // the file kohya hashes: the same tensors with only the ss_* metadata, written here by the project's writer
            Map<String, String> ss = new LinkedHashMap<>();
            meta.forEach((k, v) -> { if (k.startsWith("ss_")) ss.put(k, v); });
            Path bare = out.resolve("bare.safetensors");
            SafetensorsWriter.write(bare, tensors, ss);
            byte[] b = Files.readAllBytes(bare);
            assertThat(b.length).isGreaterThan(0x110000);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(b, 0x100000, 0x10000);
            assertThat(meta.get("sshs_legacy_hash")).isEqualTo(HexFormat.of().formatHex(sha.digest()).substring(0, 8));
            // and the tensors are laid out in name order (as safetensors' own writer does for one dtype)
            byte[] saved = Files.readAllBytes(file);
            long h = ByteBuffer.wrap(saved, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            JsonNode header = Json.MAPPER.readTree(new String(saved, 8, (int) h, StandardCharsets.UTF_8));
            List<String> byOffset = new ArrayList<>();
            header.properties().stream().filter(e -> !e.getKey().equals("__metadata__"))
                    .sorted((x, y) -> Long.compare(x.getValue().get("data_offsets").get(0).asLong(), y.getValue().get("data_offsets").get(0).asLong()))
                    .forEach(e -> byOffset.add(e.getKey()));
            assertThat(byOffset).isSorted();
        }
    }

    /** tag → [step, float bits] for every scalar in the run's event files, read as TFRecord + protobuf here. */
    static Map<String, List<long[]>> readTensorBoard(Path dir) throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).sorted().toList();
        }
        assertThat(files).isNotEmpty();
        Map<String, List<long[]>> out = new LinkedHashMap<>();
        for (Path f : files) {
            ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
            boolean first = true;
            while (buf.hasRemaining()) {
                byte[] len = new byte[8];
                buf.get(len);
                assertThat(buf.getInt()).as("length CRC").isEqualTo(masked(len));
                byte[] data = new byte[(int) ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong()];
                buf.get(data);
                assertThat(buf.getInt()).as("data CRC").isEqualTo(masked(data));
                Map<Integer, List<Object>> event = fields(data);
                assertThat(event).containsKey(1);   // wall_time
                if (first) {
                    assertThat(new String((byte[]) event.get(3).getFirst(), StandardCharsets.UTF_8)).isEqualTo("brain.Event:2");
                    first = false;
                    continue;
                }
                long step = (Long) event.get(2).getFirst();
                for (Object v : fields((byte[]) event.get(5).getFirst()).get(1)) {
                    Map<Integer, List<Object>> value = fields((byte[]) v);
                    String tag = new String((byte[]) value.get(1).getFirst(), StandardCharsets.UTF_8);
                    out.computeIfAbsent(tag, t -> new ArrayList<>()).add(new long[]{step, (Long) value.get(2).getFirst()});
                }
            }
        }
        return out;
    }

    /** CRC32C masked as TFRecord masks it (crc >>> 15 | crc << 17) + 0xa282ead8. */
    private static int masked(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        long crc = c.getValue();
        long rotated = ((crc >>> 15) | (crc << 17)) & 0xFFFFFFFFL;
        return (int) ((rotated + 0xa282ead8L) & 0xFFFFFFFFL);
    }

    /** A protobuf message's fields: varints and fixed values as Long, length-delimited ones as byte[]. */
    private static Map<Integer, List<Object>> fields(byte[] msg) {
        Map<Integer, List<Object>> out = new LinkedHashMap<>();
        int[] pos = {0};
        while (pos[0] < msg.length) {
            long key = varint(msg, pos);
            int field = (int) (key >>> 3), type = (int) (key & 7);
            Object v = switch (type) {
                case 0 -> varint(msg, pos);
                case 1 -> { long x = ByteBuffer.wrap(msg, pos[0], 8).order(ByteOrder.LITTLE_ENDIAN).getLong(); pos[0] += 8; yield x; }
                case 2 -> { int n = (int) varint(msg, pos); byte[] x = Arrays.copyOfRange(msg, pos[0], pos[0] + n); pos[0] += n; yield x; }
                case 5 -> { long x = ByteBuffer.wrap(msg, pos[0], 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xFFFFFFFFL; pos[0] += 4; yield x; }
                default -> throw new AssertionError("wire type " + type);
            };
            out.computeIfAbsent(field, k -> new ArrayList<>()).add(v);
        }
        return out;
    }

    private static long varint(byte[] b, int[] pos) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            int x = b[pos[0]++] & 0xFF;
            v |= (long) (x & 0x7F) << shift;
            if (x < 0x80) return v;
        }
    }
}
