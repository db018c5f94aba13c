package dev.kaze.bench;

import org.bytedeco.pytorch.cuda.DeviceStats;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * Peak device memory from libtorch's CUDA caching allocator (what torch.cuda.max_memory_allocated
 * reports). Loaded only when the benchmark runs on CUDA: the CPU build has no CUDA natives.
 */
final class CudaMemory {
    private CudaMemory() {}

    /** The most bytes allocated at once on the current device since the start or the last {@link #resetPeak()}. */
    static long peakAllocated() {
        DeviceStats stats = torch_cuda.getAllocator().getDeviceStats(torch_cuda.current_device());
        return stats.allocated_bytes().peak();   // the aggregate pool (StatType::AGGREGATE is index 0)
    }

    /** The most bytes reserved by the caching allocator (allocated plus cached blocks). */
    static long peakReserved() {
        DeviceStats stats = torch_cuda.getAllocator().getDeviceStats(torch_cuda.current_device());
        return stats.reserved_bytes().peak();
    }

    static void resetPeak() { torch_cuda.getAllocator().resetPeakStats(torch_cuda.current_device()); }
}
