// Port of musubi-tuner trainer_base.sample_images / sample_image_inference with wan_train_network.do_inference (T2V).
package dev.kaze.training;

import dev.kaze.pipeline.DenoisingLoop;
import dev.kaze.pipeline.StepListener;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.pipeline.sampling.FlowUniPcScheduler;
import dev.kaze.pipeline.vae.WanVae;
import dev.kaze.video.Mp4Encoder;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * Renders the sample prompts with the LoRA being trained, applied unmerged with multiplier 1.0 (the
 * base weights are never touched): umT5 encodes every prompt and negative prompt once, up front; each
 * sample starts from float32 noise [16, (F−1)/4+1, H/8, W/8] of a CPU generator seeded with the
 * prompt's --d (or a seed derived from the run's seed, the step and the prompt index, so sampling never
 * draws from the training stream), runs UniPC with the prompt's --s and --fs and CFG --l against --n
 * (or Wan's default negative prompt), and is written to {@code {dir}/{output_name}_e{epoch:06d}_{idx:02d}_{yyyyMMddHHmmss}_{seed}.mp4}
 * (by step: {@code _{step:06d}_}) at 16 fps, or as a PNG for one frame. musubi writes its MP4s at
 * 24 fps, playing Wan's 16 fps motion 1.5× fast; Kaze keeps the model's 16 fps.
 */
final class TrainingSampler implements AutoCloseable {
    static final int FPS = 16;
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmmss");
    private final WanModel model;
    private final List<SamplePrompt> prompts;
    private final List<Tensor[]> contexts = new ArrayList<>();   // per prompt: umT5 output [L, dim] of prompt and negative, retained
    private final Path dir;
    private final String outputName;
    private final long runSeed;

    TrainingSampler(WanModel model, List<SamplePrompt> prompts, Path dir, String outputName, long runSeed) {
        this.model = model;
        this.prompts = List.copyOf(prompts);
        this.dir = dir;
        this.outputName = outputName;
        this.runSeed = runSeed;
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard(); WanPipeline pipeline = new WanPipeline(model, 0, 0)) {
            for (SamplePrompt p : prompts) {
                Tensor pos = pipeline.encode(p.prompt()).clone(), neg = pipeline.encode(p.negativeOrDefault()).clone();
                pos.retainReference();
                neg.retainReference();
                contexts.add(new Tensor[]{pos, neg});
            }
        }
    }

    /**
     * Renders every prompt with lora applied to base; epoch ≥ 0 names the files by epoch, otherwise by
     * step. Returns the files written.
     */
    List<Path> sample(WanDit base, LoraNetwork lora, int step, int epoch) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the sample directory " + dir + ": " + e.getMessage(), e);
        }
        List<Path> files = new ArrayList<>();
        for (int idx = 0; idx < prompts.size(); idx++) {
            SamplePrompt p = prompts.get(idx);
            long seed = p.seed() != null ? p.seed() : (LoraTrainer.mix(runSeed ^ 0x5A3B1E5L, step * 1000L + idx) & 0x7fffffffL);
            String suffix = epoch >= 0 ? "e" + String.format("%06d", epoch) : String.format("%06d", step);
            String stem = outputName + "_" + suffix + "_" + String.format("%02d", idx) + "_" + LocalDateTime.now().format(STAMP) + "_" + seed;
            Path file = dir.resolve(stem + (p.frames() == 1 ? ".png" : ".mp4"));
            byte[] rgb = render(base, lora, p, contexts.get(idx), seed);
            if (p.frames() == 1) writePng(rgb, p.width(), p.height(), file);
            else new Mp4Encoder().write(p.frames(), p.height(), p.width(), FPS, rgb, file);
            files.add(file);
        }
        return files;
    }

    private byte[] render(WanDit base, LoraNetwork lora, SamplePrompt p, Tensor[] context, long seed) {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            WanDit dit = lora.applyTo(base);
            Tensor pos = dit.embedContext(context[0]);                                          // [1, text_len, C]
            Guidance guidance = new Guidance.Cfg(p.cfgScale());
            Tensor neg = ((Guidance.Cfg) guidance).active() ? dit.embedContext(context[1]) : null; // [1, text_len, C]
            long[] shape = {model.ditConfig().inDim(), (p.frames() - 1) / 4 + 1, p.height() / 8, p.width() / 8};
            Tensor noise = torch.randn(shape, new GeneratorOptional(torch.make_generator_cpu(seed)), new TensorOptions(ScalarType.Float))
                    .to(model.device(), ScalarType.Float);                                      // noise: [16, F', h, w]
            Tensor latent;
            try (FlowUniPcScheduler scheduler = new FlowUniPcScheduler()) {
                scheduler.setTimesteps(p.steps(), p.flowShift());
                latent = new DenoisingLoop(dit).run(scheduler, noise, new DenoisingLoop.Conditioning(pos, neg), guidance,
                        StepListener.NONE, () -> false);                  // latent: [16, F', h, w]
            }
            byte[] rgb = new byte[Math.multiplyExact(p.frames() * p.height() * p.width(), 3)];
            int[] written = {0};
            model.vae().decode(latent.unsqueeze(0), chunk -> {                                   // chunk: [1, 3, n, H, W]
                Tensor frames = WanVae.toUint8Frames(chunk).contiguous().cpu();                  // [n, H, W, 3] uint8
                int bytes = Math.toIntExact(frames.numel());
                frames.data_ptr_byte().get(rgb, written[0], bytes);
                written[0] += bytes;
            });
            if (written[0] != rgb.length) throw new IllegalStateException("the VAE decoded " + written[0] + " bytes, expected " + rgb.length);
            return rgb;
        }
    }

    private static void writePng(byte[] rgb, int width, int height, Path file) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                int i = (y * width + x) * 3;
                img.setRGB(x, y, (rgb[i] & 0xff) << 16 | (rgb[i + 1] & 0xff) << 8 | (rgb[i + 2] & 0xff));
            }
        try {
            ImageIO.write(img, "png", file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the sample " + file + ": " + e.getMessage(), e);
        }
    }

    @Override public void close() {
        for (Tensor[] c : contexts) { c[0].releaseReference(); c[1].releaseReference(); }
        contexts.clear();
    }
}
