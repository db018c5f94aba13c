package dev.kaze.parity;

import dev.kaze.pipeline.sampling.FlowUniPcScheduler;
import org.bytedeco.pytorch.global.torch;

/**
 * unipc_schedule: {@code FlowUniPCMultistepScheduler.set_timesteps(steps, shift)} → timesteps F64 [N] (the integer
 * model timesteps) and sigmas F64 [N+1] (the float32 solver sigmas).
 */
final class UnipcScheduleKind implements ParityKind {
    @Override public void check(ParityCase c) {
        int steps = c.integer("steps");
        if (c.param("shift") == null) throw new IllegalStateException(c.file() + " has no metadata 'shift'");
        double shift = c.number("shift", Double.NaN);
        try (FlowUniPcScheduler scheduler = new FlowUniPcScheduler()) {
            scheduler.setTimesteps(steps, shift);
            c.assertClose("timesteps", torch.tensor(scheduler.timesteps()).to(torch.ScalarType.Double), c.tensor("timesteps"));
            c.assertClose("sigmas", torch.tensor(scheduler.sigmas()).to(torch.ScalarType.Double), c.tensor("sigmas"));
        }
    }
}
