// Port of wan/text2video.py, WanT2V.generate, with the LoRA author's recipe as defaults.
package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.pipeline.sampling.FlowUniPcScheduler;
import dev.kaze.pipeline.text.PromptCleaner;
import dev.kaze.pipeline.text.TokenizedPrompt;
import dev.kaze.pipeline.vae.DecodeTiling;
import dev.kaze.pipeline.vae.WanVae;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.security.SecureRandom;
import java.util.function.BooleanSupplier;

/**
 * Prompt in, RGB frames out:
 * 1. resolve the request (trigger phrase, the recipe's negative prompt, defaults);
 * 2. clean, tokenize and encode the prompt (and the negative prompt when the guidance uses it) with umT5;
 * 3. build the DiT with the request's LoRA stack and embed the contexts;
 * 4. seed the noise [16, (F−1)/4+1, H/8, W/8] on a CPU generator (as Kijai's wrapper does);
 * 5. denoise with UniPC and the chosen guidance;
 * 6. decode one latent frame at a time and convert to uint8 RGB, round((x+1)·127.5).
 */
public final class WanPipeline implements AutoCloseable {
    private static final SecureRandom SEEDS = new SecureRandom();
    /** Text cache bounds: 64 prompts, 256 MiB (a 512-token umT5 output is 8 MiB in float32). */
    static final int TEXT_CACHE_ENTRIES = 64;
    static final long TEXT_CACHE_BYTES = 256L << 20;
    private final WanModel model;
    private final TextEncodingCache textCache;

    public WanPipeline(WanModel model) { this(model, TEXT_CACHE_ENTRIES, TEXT_CACHE_BYTES); }

    /** With a text-encoder cache of at most maxEntries prompts and maxBytes of encoder output (0 turns it off). */
    public WanPipeline(WanModel model, int maxEntries, long maxBytes) {
        this.model = model;
        this.textCache = new TextEncodingCache(maxEntries, maxBytes);
    }

    public WanModel model() { return model; }

    /** Fills in the defaults without running anything (what a job records when it is queued). */
    public GenerateRequest.Resolved resolve(GenerateRequest request) {
        GenerateRequest.Resolved r = request.resolve(model.defaultLoras(), SEEDS.nextLong(0, 1L << 53));
        for (GenerateRequest.LoraRef ref : r.loras()) model.loras().resolve(ref.name());   // unknown names fail here
        return r;
    }

    public synchronized GeneratedVideo generate(GenerateRequest request, GenerationListener listener, BooleanSupplier cancelRequested) {
        return generate(resolve(request), listener, cancelRequested);
    }

    public synchronized GeneratedVideo generate(GenerateRequest.Resolved r, GenerationListener listener, BooleanSupplier cancelRequested) {
        return generate(r, listener, cancelRequested, null, DenoisingLoop.Checkpoints.NONE);
    }

    /**
     * As {@link #generate(GenerateRequest.Resolved, GenerationListener, BooleanSupplier)}, resuming from a
     * checkpoint when one is given (its steps are not run again) and offering the state to checkpoints
     * after every step.
     */
    public synchronized GeneratedVideo generate(GenerateRequest.Resolved r, GenerationListener listener, BooleanSupplier cancelRequested,
                                                byte[] resumeFrom, DenoisingLoop.Checkpoints checkpoints) {
        try (PointerScope scope = new PointerScope()) {
            listener.onStage(GenerationListener.Stage.TEXT);
            WanDit dit = model.dit(r.loras(), r.width(), r.height(), r.frames());
            Tensor context = dit.embedContext(encode(r.prompt()));                          // [1, text_len, C]
            boolean negativeUsed = r.guidance() instanceof Nag n && n.active()
                    || r.guidance() instanceof Guidance.Cfg c && c.active();
            Tensor negative = negativeUsed ? dit.embedContext(encode(r.negativePrompt())) : null;
            if (cancelRequested.getAsBoolean()) throw new CancelledException(0);

            listener.onStage(GenerationListener.Stage.DENOISE);
            Tensor latent;
            try (FlowUniPcScheduler scheduler = new FlowUniPcScheduler()) {
                Tensor start;
                if (resumeFrom != null) {
                    RenderCheckpoint checkpoint = RenderCheckpoint.fromBytes(resumeFrom);
                    if (checkpoint.state().steps() != r.steps() || checkpoint.state().shift() != r.shift())
                        throw new IllegalStateException("the checkpoint belongs to another schedule");
                    scheduler.restore(checkpoint.state());
                    start = checkpoint.latent().to(model.device(), ScalarType.Float);
                } else {
                    scheduler.setTimesteps(r.steps(), r.shift());
                    start = noise(r);                                                        // [16, F', H/8, W/8]
                }
                latent = new DenoisingLoop(dit).run(scheduler, start, new DenoisingLoop.Conditioning(context, negative),
                        r.guidance(), listener, cancelRequested, checkpoints);
            }
            if (cancelRequested.getAsBoolean()) throw new CancelledException(r.steps());

            listener.onStage(GenerationListener.Stage.DECODE);
            return new GeneratedVideo(r, model.id(), r.frames(), r.height(), r.width(), r.fps(), decode(latent, r));
        }
    }

    /**
     * The trimmed umT5 output [L, dim] of one prompt (cleaned, tokenized, padded, masked), from the
     * text cache when this prompt was encoded recently; a handle in the caller's scope, not to be
     * modified in place.
     */
    public Tensor encode(String prompt) {
        String cleaned = PromptCleaner.clean(prompt);
        return textCache.get(new TextEncodingCache.Key(model.id(), cleaned), () -> runEncoder(cleaned));
    }

    /** How many prompts the text encoder has run for (text cache misses), for tests. */
    long encoderRuns() { return textCache.encoderRuns(); }

    /** The text cache, for tests. */
    TextEncodingCache textCache() { return textCache; }

    /** Releases the text cache (not the model, which its owner closes). */
    @Override public void close() { textCache.close(); }

    private Tensor runEncoder(String cleaned) {
        TokenizedPrompt tp = model.tokenizer().encode(cleaned);
        Tensor ids = longs(tp.ids()).view(1, -1);                                            // [1, text_len]
        Tensor mask = longs(tp.mask()).view(1, -1);                                          // [1, text_len]
        return model.encodeText(ids, mask);                                                  // [L, dim]
    }

    private static Tensor longs(long[] values) {
        try (LongPointer data = new LongPointer(values)) {
            return torch.from_blob(data, new long[]{values.length}, new TensorOptions(ScalarType.Long)).clone();
        }
    }

    /** Seeded standard normal noise in float32, generated on the CPU so every device gives the same start. */
    Tensor noise(GenerateRequest.Resolved r) {
        long[] shape = {model.ditConfig().inDim(), r.latentFrames(), r.height() / 8, r.width() / 8};
        Tensor n = torch.randn(shape, new GeneratorOptional(torch.make_generator_cpu(r.seed())), new TensorOptions(ScalarType.Float));
        return n.to(model.device(), ScalarType.Float);
    }

    private byte[] decode(Tensor latent, GenerateRequest.Resolved r) {
        WanVae vae = model.vae();
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(r.frames(), r.height() * r.width()), 3)];
        int[] written = {0};
        DecodeTiling tiling = model.plan(r.width(), r.height(), r.frames()).decodeTiling();   // null: untiled
        vae.decode(latent.unsqueeze(0), tiling, chunk -> {                                           // chunk: [1, 3, n, H, W]
            Tensor frames = WanVae.toUint8Frames(chunk).contiguous().cpu();                  // [n, H, W, 3] uint8
            int bytes = Math.toIntExact(frames.numel());
            frames.data_ptr_byte().get(rgb, written[0], bytes);
            written[0] += bytes;
        });
        if (written[0] != rgb.length)
            throw new IllegalStateException("the VAE decoded " + written[0] + " bytes, expected " + rgb.length);
        return rgb;
    }
}
