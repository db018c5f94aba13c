package dev.kaze.tensor;

import org.bytedeco.pytorch.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Named tensors held in memory (the preview model's generated weights); owns a reference to each. */
public final class TensorMap implements TensorSource {
    private final String description;
    private final Map<String, Tensor> tensors;
    private final OwnedTensors owned;

    public TensorMap(String description, Map<String, Tensor> tensors) {
        this.description = description;
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        this.owned = new OwnedTensors(this.tensors.values().stream().toList());
    }

    @Override public Set<String> keys() { return tensors.keySet(); }

    @Override public TensorSpec spec(String key) {
        Tensor t = tensors.get(key);
        return t == null ? null : new TensorSpec(DType.of(t.scalar_type()), Ops.shape(t));
    }

    /** A copy, so a caller may merge into it. */
    @Override public Tensor load(String key) {
        Tensor t = tensors.get(key);
        if (t == null) throw new WeightsException(description + " has no tensor '" + key + "'");
        return t.clone();
    }

    @Override public String origin(String key) { return description; }

    @Override public String describe() { return description; }

    @Override public void close() { owned.close(); }
}
