package dev.kaze.pipeline.dit;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Moves a swapped block's weights from host memory into a device slot and orders that copy
 * against the computation: synchronous copies on the CPU, a side stream with events on CUDA
 * ({@link CudaSwapTransfer}, loaded only for a CUDA device, so the CPU build never touches the
 * CUDA classes).
 */
interface SwapTransfer extends AutoCloseable {
    /** Starts copying host[i] into slot[i] for every i (the slot's previous block must be done with it). */
    void load(int slot, Tensor[] host, Tensor[] device);

    /** Makes the computation queued from now on wait for the last {@link #load} into slot. */
    void awaitLoad(int slot);

    /** Marks that the computation queued so far is the last use of slot's current weights. */
    void computed(int slot);

    @Override void close();

    static SwapTransfer forDevice(Device device) {
        if (device.type().value != torch.DeviceType.CUDA.value) return new Synchronous();
        try {
            return (SwapTransfer) Class.forName("dev.kaze.pipeline.dit.CudaSwapTransfer")
                    .getDeclaredConstructor(Device.class).newInstance(device);
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("block swapping on " + device.str().getString()
                    + " needs the CUDA build of libtorch (build with -Pcuda): " + e, e);
        }
    }

    /** The CPU: each copy completes before the next operation. */
    final class Synchronous implements SwapTransfer {
        @Override public void load(int slot, Tensor[] host, Tensor[] device) {
            for (int i = 0; i < host.length; i++) device[i].copy_(host[i]);
        }
        @Override public void awaitLoad(int slot) {}
        @Override public void computed(int slot) {}
        @Override public void close() {}
    }
}
