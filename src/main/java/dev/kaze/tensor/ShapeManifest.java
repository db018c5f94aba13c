package dev.kaze.tensor;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Keys and shapes without values (e.g. from checkpoint-manifests.json). Tensors come on the
 * meta device, so a model builder can be checked against a 14B checkpoint's layout without
 * allocating its size.
 */
public final class ShapeManifest implements TensorSource {
    private final String description;
    private final Map<String, TensorSpec> specs;

    public ShapeManifest(String description, Map<String, TensorSpec> specs) {
        this.description = description;
        this.specs = Collections.unmodifiableMap(new LinkedHashMap<>(specs));
    }

    @Override public Set<String> keys() { return specs.keySet(); }

    @Override public TensorSpec spec(String key) { return specs.get(key); }

    @Override public Tensor load(String key) {
        TensorSpec s = specs.get(key);
        if (s == null) throw new WeightsException(description + " has no tensor '" + key + "'");
        TensorOptions o = new TensorOptions(s.dtype().scalarType()).device(new DeviceOptional(new Device(torch.DeviceType.Meta)));
        return torch.empty(s.shape(), o, new MemoryFormatOptional());
    }

    @Override public String origin(String key) { return description; }

    @Override public String describe() { return description; }
}
