package dev.kaze.tensor;

import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * Tensors a model keeps for its lifetime (its weights). They hold one extra reference each, so
 * they outlive the PointerScope they were built in; {@link #close()} releases them.
 */
public final class OwnedTensors implements AutoCloseable {
    private final List<Tensor> tensors;
    private boolean closed;

    OwnedTensors(List<Tensor> tensors) {
        this.tensors = List.copyOf(tensors);
        this.tensors.forEach(Tensor::retainReference);
    }

    public int size() { return tensors.size(); }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        tensors.forEach(Tensor::releaseReference);
    }
}
