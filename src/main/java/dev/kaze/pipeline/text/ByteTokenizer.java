package dev.kaze.pipeline.text;

import java.nio.charset.StandardCharsets;

/**
 * Tokeniser of the built-in preview model: each UTF-8 byte b of the prompt is id b + 3
 * ({@link #BYTE_OFFSET}), after pad 0, EOS 1 and an unused unk 2, so the vocabulary has 259
 * rows. Same contract as the umT5 tokeniser: EOS appended, truncation to textLen keeping EOS
 * (which may cut a multi-byte character; the preview model does not care), padding with 0.
 */
public final class ByteTokenizer implements PromptTokenizer {
    public static final int BYTE_OFFSET = 3;
    public static final int VOCAB_SIZE = 256 + BYTE_OFFSET;

    private final int textLen;

    public ByteTokenizer(int textLen) {
        if (textLen < 1) throw new IllegalArgumentException("text length must be at least 1 (room for EOS), got " + textLen);
        this.textLen = textLen;
    }

    @Override public int textLen() { return textLen; }

    @Override
    public TokenizedPrompt encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(bytes.length, textLen - 1);
        long[] real = new long[n + 1];
        for (int i = 0; i < n; i++) real[i] = Byte.toUnsignedInt(bytes[i]) + BYTE_OFFSET;
        real[n] = TokenizedPrompt.EOS_ID;
        return TokenizedPrompt.padded(real, textLen);
    }
}
