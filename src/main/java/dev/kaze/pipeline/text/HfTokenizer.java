// Port of wan/modules/tokenizers.py, HuggingfaceTokenizer (the tokenizer call; cleaning is PromptCleaner)
package dev.kaze.pipeline.text;

import ai.djl.engine.EngineException;
import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The umT5 tokeniser: google/umt5-xxl's {@code tokenizer.json} run by the HuggingFace
 * tokenizers library (Rust, through DJL), called like the reference's
 * {@code tokenizer(texts, padding='max_length', truncation=True, max_length=text_len,
 * add_special_tokens=True)}: the post-processor appends {@code </s>} (id 1), no BOS; an
 * over-long prompt is cut to text_len - 1 pieces plus {@code </s>}; padding with id 0 to
 * text_len is done here (umT5's pad id is 0).
 *
 * <p>The native library comes from inside the DJL jar ({@code native/lib/linux-x86_64/cpu/}) and
 * is copied to DJL's engine cache ({@code ENGINE_CACHE_DIR}, else {@code DJL_CACHE_DIR}, else
 * {@code ~/.djl.ai}) on first use. Where DJL detects a CUDA runtime it would otherwise pick a
 * CUDA build of the library, which the jar does not carry, and download it from publish.djl.ai;
 * and on first use its telemetry probes the EC2 metadata endpoint. So, unless already set as a
 * system property or environment variable, this class sets {@code RUST_FLAVOR=cpu} (the bundled
 * build; tokenising needs no GPU), {@code ai.djl.offline=true} (no downloads) and
 * {@code OPT_OUT_TRACKING=true} before DJL is first used.
 */
public final class HfTokenizer implements PromptTokenizer {
    static {
        setIfUnset("RUST_FLAVOR", "RUST_FLAVOR", "cpu");
        setIfUnset("ai.djl.offline", "DJL_OFFLINE", "true");
        setIfUnset("OPT_OUT_TRACKING", "OPT_OUT_TRACKING", "true");
    }

    private static void setIfUnset(String property, String env, String value) {
        if (System.getProperty(property) == null && System.getenv(env) == null) System.setProperty(property, value);
    }

    private final HuggingFaceTokenizer tokenizer;
    private final Path file;
    private final int textLen;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, Path file, int textLen) {
        this.tokenizer = tokenizer;
        this.file = file;
        this.textLen = textLen;
    }

    /**
     * Loads a {@code tokenizer.json}, given as the file or as the directory holding it (e.g. the
     * {@code google/umt5-xxl} folder inside the Wan checkpoint directory).
     */
    public static HfTokenizer open(Path path, int textLen) {
        if (textLen < 1) throw new IllegalArgumentException("text length must be at least 1 (room for EOS), got " + textLen);
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("Tokenizer file " + file + " does not exist; point the text encoder's tokenizer "
                    + "setting at google/umt5-xxl's tokenizer.json (or the directory holding it).");
        }
        Map<String, String> options = Map.of(
                "addSpecialTokens", "true",
                "truncation", "true", // LONGEST_FIRST, counting the post-processor's </s>
                "padding", "false",   // padded here, with the pad id 0
                "maxLength", Integer.toString(textLen),
                "modelMaxLength", Integer.toString(textLen));
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = HuggingFaceTokenizer.newInstance(file, options);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read tokenizer file " + file + ": " + e.getMessage(), e);
        } catch (EngineException e) {
            throw new IllegalStateException("Cannot load the HuggingFace tokenizers native library that the "
                    + "ai.djl.huggingface:tokenizers jar bundles (it is copied to DJL's cache directory; set ENGINE_CACHE_DIR "
                    + "to a writable directory if the home directory is read-only): " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("Tokenizer file " + file + " is not a valid HuggingFace tokenizer.json: "
                    + e.getMessage(), e);
        }
        return new HfTokenizer(tokenizer, file, textLen);
    }

    @Override public int textLen() { return textLen; }

    /** The tokenizer.json this was loaded from. */
    public Path file() { return file; }

    @Override
    public TokenizedPrompt encode(String text) {
        Encoding encoding = tokenizer.encode(text);
        long[] ids = encoding.getIds();
        if (ids.length > textLen) {
            throw new IllegalStateException("Tokenizer " + file + " returned " + ids.length + " ids for text length " + textLen);
        }
        return TokenizedPrompt.padded(ids, textLen);
    }

    /** The pieces the ids stand for, without padding (for logs and tests). */
    public String[] pieces(String text) {
        return tokenizer.encode(text).getTokens();
    }

    @Override
    public void close() { tokenizer.close(); }
}
