package dev.kaze.pipeline.text;

/**
 * Turns a prompt into token ids for the text encoder: real tokens, then EOS (id 1), truncated
 * so that EOS is kept when the prompt is too long, padded with id 0 to exactly
 * {@link #textLen()}. No tensors here; the pipeline converts the result.
 */
public sealed interface PromptTokenizer extends AutoCloseable permits HfTokenizer, ByteTokenizer {
    /** Wan's text_len: every result has exactly this many ids (512 for umT5). */
    int textLen();

    /** Tokenises text as it is (no cleaning). */
    TokenizedPrompt encode(String text);

    /** Cleans the prompt like the reference ({@link PromptCleaner}) and tokenises it. */
    default TokenizedPrompt tokenize(String prompt) {
        return encode(PromptCleaner.clean(prompt));
    }

    @Override
    default void close() {}
}
