package dev.kaze.jobs;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.cuda.CUDAAllocator;
import org.bytedeco.pytorch.global.torch_cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Measures a job's peak device memory from the moment it is started.
 *
 * <ul>
 *   <li>CUDA: libtorch's caching allocator statistics: its peak is reset at the start, and the peak of allocated
 *       bytes (all pools) is read at the end ({@link JobUsage#CUDA_ALLOCATOR}).</li>
 *   <li>CPU: how far the process's peak resident set ({@code VmHWM} in {@code /proc/self/status}) rose above its
 *       resident set at the start; the peak is reset first where Linux allows ({@code /proc/self/clear_refs}).
 *       Everything else in the process counts too (the API, an encode of the previous job), so it is an estimate
 *       ({@link JobUsage#PROCESS_RSS}); null where {@code /proc} is missing.</li>
 * </ul>
 */
final class PeakMemory {
    private static final Path STATUS = Path.of("/proc/self/status"), CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private final int cudaIndex;
    private final Long rssAtStart;

    private PeakMemory(int cudaIndex, Long rssAtStart) {
        this.cudaIndex = cudaIndex;
        this.rssAtStart = rssAtStart;
    }

    /** Starts measuring on {@code device} (null: the CPU). */
    static PeakMemory start(Device device) {
        if (device != null && device.is_cuda()) {
            int index = Math.max(0, device.index());
            try {
                torch_cuda.getAllocator().resetPeakStats((byte) index);
                return new PeakMemory(index, null);
            } catch (RuntimeException | LinkageError e) {
                return new PeakMemory(-2, null); // no allocator statistics: unknown
            }
        }
        try {
            Files.writeString(CLEAR_REFS, "5"); // resets VmHWM to the current RSS (Linux 4.0+)
        } catch (IOException | RuntimeException ignored) {
            // not allowed or not Linux: the peak since the process started is read instead, less useful
        }
        return new PeakMemory(-1, statusKb("VmRSS:"));
    }

    /** A peak read at one moment: bytes (null where unknown) and how it was measured. */
    record Reading(Long bytes, String source) {}

    /** The peak now, with its source. */
    Reading read() {
        return new Reading(peakBytes(), source());
    }

    /** How the peak is measured. */
    String source() {
        return cudaIndex == -1 ? JobUsage.PROCESS_RSS : JobUsage.CUDA_ALLOCATOR;
    }

    /** The peak since {@link #start}, in bytes, or null where unknown. */
    Long peakBytes() {
        if (cudaIndex >= 0) {
            try {
                CUDAAllocator allocator = torch_cuda.getAllocator();
                return allocator.getDeviceStats((byte) cudaIndex).allocated_bytes().peak();
            } catch (RuntimeException | LinkageError e) {
                return null;
            }
        }
        if (cudaIndex == -2 || rssAtStart == null) return null;
        Long hwm = statusKb("VmHWM:");
        return hwm == null ? null : Math.max(0, hwm - rssAtStart);
    }

    /** A {@code /proc/self/status} field in bytes (the file gives kB), or null. */
    private static Long statusKb(String field) {
        try {
            List<String> lines = Files.readAllLines(STATUS);
            for (String line : lines) {
                if (line.startsWith(field)) {
                    String[] parts = line.substring(field.length()).strip().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        return null;
    }
}
