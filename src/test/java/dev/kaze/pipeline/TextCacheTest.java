package dev.kaze.pipeline;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The text-encoder cache: repeated prompts are encoded once; evicted and closed entries free their memory. */
class TextCacheTest {
    // Pointer.totalCount() is process-wide: a leak makes it grow, while the GC may meanwhile release
    // pointers other tests in this JVM left unscoped, so the checks are "no more than", not "equal".
    static WanModel model;

    @BeforeAll static void load() { model = WanModel.preview(null, new Device(torch.DeviceType.CPU)); }

    @AfterAll static void close() { model.close(); }

    static GenerateRequest request(String prompt) {
        // default guidance (the recipe's NAG) uses the recipe's long negative prompt
        return new GenerateRequest(prompt, null, 32, 32, 5, 16, 3, 5.0, 9L, null, null);
    }

    @Test
    void theSecondGenerateWithTheSamePromptsDoesNotRunTheEncoder() {
        try (WanPipeline cached = new WanPipeline(model); WanPipeline uncached = new WanPipeline(model, 0, 0)) {
            byte[] first = cached.generate(request("a windmill on a hill"), GenerationListener.NONE, () -> false).rgb();
            assertThat(cached.encoderRuns()).as("prompt and negative prompt").isEqualTo(2);
            byte[] second = cached.generate(request("a windmill on a hill"), GenerationListener.NONE, () -> false).rgb();
            assertThat(cached.encoderRuns()).isEqualTo(2);
            assertThat(second).isEqualTo(first);
            // the same prompt up to whitespace cleaning is the same entry; a new prompt re-uses the negative
            cached.generate(request("  a windmill   on a hill "), GenerationListener.NONE, () -> false);
            assertThat(cached.encoderRuns()).isEqualTo(2);
            byte[] other = cached.generate(request("a harbour at night"), GenerationListener.NONE, () -> false).rgb();
            assertThat(cached.encoderRuns()).isEqualTo(3);
            assertThat(other).isNotEqualTo(first);
            // the cache changes nothing: an uncached pipeline gives the same frames and encodes every time
            assertThat(uncached.generate(request("a windmill on a hill"), GenerationListener.NONE, () -> false).rgb()).isEqualTo(first);
            uncached.generate(request("a windmill on a hill"), GenerationListener.NONE, () -> false);
            assertThat(uncached.encoderRuns()).isEqualTo(4);
            assertThat(uncached.textCache().size()).isZero();
        }
    }

    private static double sum(Tensor t) {
        try (PointerScope scope = new PointerScope()) { return t.sum().item_double(); }
    }

    @Test
    void evictionAndCloseReleaseTheCachedTensors() {
        WanPipeline p = new WanPipeline(model, 2, 1L << 30);
        long before = Pointer.totalCount();
        Tensor held;
        try (PointerScope scope = new PointerScope()) {
            held = p.encode("first prompt");
            held.retainReference();   // a caller holding a result across evictions
        }
        double heldSum = sum(held);
        try (PointerScope scope = new PointerScope()) {
            p.encode("second prompt");
            p.encode("third prompt");   // evicts "first prompt"
            p.encode("fourth prompt");  // evicts "second prompt"
        }
        assertThat(p.textCache().size()).isEqualTo(2);
        assertThat(p.encoderRuns()).isEqualTo(4);
        // the caller's result survives the eviction of its entry
        assertThat(sum(held)).isEqualTo(heldSum);
        held.releaseReference();
        long withTwoCached = Pointer.totalCount();
        try (PointerScope scope = new PointerScope()) {
            for (int i = 0; i < 10; i++) p.encode("prompt " + i);   // all evicting one another
        }
        assertThat(Pointer.totalCount()).as("bounded: no more live tensors than with two cached").isLessThanOrEqualTo(withTwoCached);
        assertThat(p.textCache().size()).isEqualTo(2);
        p.close();
        assertThat(p.textCache().size()).isZero();
        assertThat(p.textCache().bytes()).isZero();
        assertThat(Pointer.totalCount()).as("live JavaCPP pointers after close").isLessThanOrEqualTo(before);

        // the byte bound: entries larger than the bound are handed out but not kept
        try (WanPipeline tiny = new WanPipeline(model, 64, 16); PointerScope scope = new PointerScope()) {
            tiny.encode("a prompt");
            assertThat(tiny.textCache().size()).isZero();
        }
    }
}
