package dev.kaze.tensor;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.OperatorHandle;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The float8 matmul aten::_scaled_mm, which the presets do not wrap (underscore ops are skipped),
 * called through the dispatcher with a boxed stack:
 * {@code _scaled_mm(Tensor self, Tensor mat2, Tensor scale_a, Tensor scale_b, Tensor? bias=None,
 * Tensor? scale_result=None, ScalarType? out_dtype=None, bool use_fast_accum=False) -> Tensor}.
 * libtorch's CPU build has a CPU kernel; the CUDA kernel needs compute capability ≥ 8.9 (Ada, Hopper).
 */
public final class ScaledMm {
    private ScaledMm() {}

    private static final double E4M3_MAX = 448.0;
    private static final Map<String, Boolean> DEVICES = new ConcurrentHashMap<>();

    private static final class Op {
        // first looked up inside some caller's PointerScope: retained so that scope's close does not free it
        static final OperatorHandle HANDLE = Dispatcher.singleton().findSchemaOrThrow("aten::_scaled_mm", "").retainReference();
    }

    /**
     * Whether a Linear with float8 values q [out, in] and scale can compute x q̂ᵀ with
     * _scaled_mm: e4m3 values with one scale, in and out multiples of 16, an input that needs no
     * gradient (the op has no derivative), and a device with a kernel for it.
     */
    public static boolean usable(Tensor x, Tensor q, Tensor scale) {
        return Ops.same(q.scalar_type(), ScalarType.Float8_e4m3fn) && scale.numel() == 1
                && q.size(0) % 16 == 0 && q.size(1) % 16 == 0 && x.size(-1) == q.size(1)
                && !x.requires_grad() && !q.is_meta() && deviceSupports(q.device());
    }

    /** Whether this device has a _scaled_mm kernel: the CPU if libtorch registers one, CUDA at capability ≥ 8.9. */
    public static boolean deviceSupports(Device device) {
        boolean cuda = device.is_cuda();
        if (!cuda && !device.is_cpu()) return false;
        int index = cuda ? (device.has_index() ? device.index() : torch_cuda.current_device()) : -1;
        return DEVICES.computeIfAbsent((cuda ? "cuda:" : "cpu:") + index, k -> cuda
                ? Op.HANDLE.hasKernelForDispatchKey(torch.DispatchKey.CUDA) && cudaCapability(index) >= 89
                : Op.HANDLE.hasKernelForDispatchKey(torch.DispatchKey.CPU));
    }

    /**
     * major·10 + minor of a CUDA device, or 0 when it cannot be read. torch_cuda.getDeviceProperties
     * returns a class of the CUDA presets, on the class path only in the cuda build, hence reflection.
     */
    static int cudaCapability(int index) {
        try {
            Object props = Class.forName("org.bytedeco.pytorch.global.torch_cuda")
                    .getMethod("getDeviceProperties", byte.class).invoke(null, (byte) index);
            int major = (int) props.getClass().getMethod("major").invoke(props);
            int minor = (int) props.getClass().getMethod("minor").invoke(props);
            return major * 10 + minor;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return 0;
        }
    }

    /**
     * x [..., in] (any float dtype) times the float8 weight q [out, in] · scale ([] / [1]), in
     * dtype: x is quantised to e4m3 with one scale max|x|/448 (at least 1e-12). Check
     * {@link #usable} first. -> [..., out]
     */
    public static Tensor linear(Tensor x, Tensor q, Tensor scale, ScalarType dtype) {
        long in = q.size(1), out = q.size(0);
        long[] shape = Ops.shape(x);
        Tensor x2 = Ops.as(x, dtype).reshape(-1, in);                                              // [M, in]
        Tensor scaleX = torch.clamp_min(Ops.f32(x2.abs().max()).div(new Scalar(E4M3_MAX)), new Scalar(1e-12)); // []
        Tensor xq = x2.div(scaleX).clamp(new ScalarOptional(new Scalar(-E4M3_MAX)), new ScalarOptional(new Scalar(E4M3_MAX)))
                .to(ScalarType.Float8_e4m3fn).contiguous();                                        // [M, in] e4m3
        IValueVector stack = new IValueVector(new IValue(xq), new IValue(q.t()),                   // mat2: [in, out] column-major
                new IValue(scaleX), new IValue(Ops.f32(scale).reshape()), new IValue(), new IValue(),
                new IValue(dtype), new IValue(false));
        Op.HANDLE.callBoxed(stack);
        Tensor y = stack.get(0).toTensor();                                                        // [M, out]
        shape[shape.length - 1] = out;
        return y.view(shape);                                                                      // [..., out]
    }
}
