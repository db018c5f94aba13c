package dev.kaze.pipeline.dit;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.cuda.CUDAEvent;
import org.bytedeco.pytorch.cuda.CUDAStream;
import org.bytedeco.pytorch.cuda.CUDAStreamGuard;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * Block weight copies on a CUDA side stream: a load waits (on the side stream) for the event
 * recorded after the slot's previous block computed, copies the pinned host tensors
 * asynchronously and records a "loaded" event, which the compute stream waits for before the
 * block runs. The slots are allocated on the compute stream and only written here, so the
 * caching allocator never sees a side-stream allocation. Loaded by name from {@link SwapTransfer#forDevice}.
 */
final class CudaSwapTransfer implements SwapTransfer {
    private final byte index;
    private final CUDAStream side;
    private final CUDAEvent[] loaded = {new CUDAEvent(), new CUDAEvent()};
    private final CUDAEvent[] freed = {new CUDAEvent(), new CUDAEvent()};

    CudaSwapTransfer(Device device) {
        this.index = device.has_index() ? device.index() : torch_cuda.current_device();
        this.side = torch_cuda.getStreamFromPool(false, index);
        for (CUDAEvent e : loaded) e.retainReference();
        for (CUDAEvent e : freed) e.retainReference();
        side.retainReference();
    }

    @Override public void load(int slot, Tensor[] host, Tensor[] device) {
        freed[slot].block(side);                         // no-op until the slot was first computed with
        try (CUDAStreamGuard guard = new CUDAStreamGuard(side.unwrap())) {
            for (int i = 0; i < host.length; i++) device[i].copy_(host[i], true);
            loaded[slot].record(side);
        }
    }

    @Override public void awaitLoad(int slot) { loaded[slot].block(torch_cuda.getCurrentCUDAStream(index)); }

    @Override public void computed(int slot) { freed[slot].record(torch_cuda.getCurrentCUDAStream(index)); }

    @Override public void close() {
        side.synchronize();
        for (CUDAEvent e : loaded) e.releaseReference();
        for (CUDAEvent e : freed) e.releaseReference();
        side.releaseReference();
    }
}
