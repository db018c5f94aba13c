package dev.kaze.parity;

import dev.kaze.tensor.SafetensorsFile;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.fail;

/** One case file of the parity fixtures: its inputs, expected outputs and metadata parameters. */
public record ParityCase(Path file, Path fixtureDir, SafetensorsFile tensors) implements AutoCloseable {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    public static ParityCase open(Path file) {
        return new ParityCase(file, file.getParent().getParent(), SafetensorsFile.open(file));
    }

    public Map<String, String> metadata() { return tensors.metadata(); }

    public String kind() { return metadata().getOrDefault("kind", "?"); }

    public String name() { return file.getFileName().toString().replace(".safetensors", ""); }

    /** A metadata value parsed as JSON (the fixtures JSON-encode every value). */
    public JsonNode param(String key) {
        String v = metadata().get(key);
        if (v == null) return null;
        try {
            return JSON.readTree(v);
        } catch (RuntimeException e) {
            return JSON.getNodeFactory().stringNode(v);
        }
    }

    public double number(String key, double fallback) {
        JsonNode n = param(key);
        return n == null ? fallback : n.isNumber() ? n.asDouble() : Double.parseDouble(n.asString());
    }

    public int integer(String key) {
        JsonNode n = param(key);
        if (n == null) throw new IllegalStateException(file + " has no metadata '" + key + "'");
        return n.isNumber() ? n.asInt() : Integer.parseInt(n.asString());
    }

    /** A fixture file named by the metadata key (e.g. weights = dit.safetensors), resolved in the fixture dir. */
    public Path fixture(String metadataKey) {
        JsonNode n = param(metadataKey);
        if (n == null) throw new IllegalStateException(file + " has no metadata '" + metadataKey + "'");
        return fixtureDir.resolve(n.asString());
    }

    public boolean has(String tensor) { return tensors.entries().containsKey(tensor); }

    public Tensor tensor(String name) { return tensors.tensor(name); }

    public double atol() { return number("atol", 0); }

    public double rtol() { return number("rtol", 0); }

    /** |actual - expected| <= atol + rtol * |expected| element by element, with the worst element reported. */
    public void assertClose(String what, Tensor actual, Tensor expected) {
        assertClose(what, actual, expected, atol(), rtol());
    }

    public static void assertClose(String what, Tensor actual, Tensor expected, double atol, double rtol) {
        long[] as = actual.sizes().vec().get(), es = expected.sizes().vec().get();
        if (!java.util.Arrays.equals(as, es))
            fail(what + ": shape " + java.util.Arrays.toString(as) + " != expected " + java.util.Arrays.toString(es));
        Tensor a = actual.to(torch.ScalarType.Double).contiguous();
        Tensor e = expected.to(torch.ScalarType.Double).contiguous();
        Tensor err = a.sub(e).abs();
        Tensor bound = e.abs().mul(new org.bytedeco.pytorch.Scalar(rtol)).add(new org.bytedeco.pytorch.Scalar(atol));
        Tensor excess = err.sub(bound);
        double worst = excess.max().item_double();
        if (!(worst <= 0) || a.isnan().any().item_bool()) {
            long idx = excess.flatten().argmax().item_long();
            fail(String.format("%s: %d of %d elements outside atol %.1e rtol %.1e; worst at flat index %d: actual %.8g expected %.8g (max abs err %.3e)",
                    what, err.gt(bound).sum().item_long(), e.numel(), atol, rtol, idx,
                    a.flatten().get(idx).item_double(), e.flatten().get(idx).item_double(), err.max().item_double()));
        }
    }

    @Override public void close() { tensors.close(); }
}
