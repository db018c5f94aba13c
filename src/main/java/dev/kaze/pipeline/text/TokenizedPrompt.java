package dev.kaze.pipeline.text;

import java.util.Arrays;

/**
 * One tokenised prompt, padded to the text length: {@code ids} are the real tokens (ending in
 * EOS) followed by pad ids, {@code mask} is 1 for the real tokens and 0 for padding, and
 * {@code length} is the number of real tokens (the mask's sum, Wan's {@code seq_lens}), to which
 * the encoder output is trimmed. The arrays are copied in and out.
 */
public record TokenizedPrompt(long[] ids, long[] mask, int length) {
    public static final long PAD_ID = 0;
    public static final long EOS_ID = 1;

    public TokenizedPrompt {
        if (ids.length != mask.length) {
            throw new IllegalArgumentException("ids has " + ids.length + " entries but mask has " + mask.length);
        }
        if (length < 1 || length > ids.length) {
            throw new IllegalArgumentException("length " + length + " must be in 1.." + ids.length);
        }
        for (int i = 0; i < mask.length; i++) {
            long expected = i < length ? 1 : 0;
            if (mask[i] != expected) {
                throw new IllegalArgumentException("mask must be " + length + " ones followed by zeros; position " + i + " is " + mask[i]);
            }
            if (i >= length && ids[i] != PAD_ID) {
                throw new IllegalArgumentException("padding position " + i + " holds id " + ids[i] + ", expected " + PAD_ID);
            }
        }
        ids = ids.clone();
        mask = mask.clone();
    }

    /**
     * Pads real token ids (already ending in EOS, at most textLen of them) with {@link #PAD_ID}
     * to exactly textLen.
     */
    public static TokenizedPrompt padded(long[] real, int textLen) {
        if (real.length > textLen) {
            throw new IllegalArgumentException(real.length + " tokens do not fit text length " + textLen);
        }
        long[] ids = Arrays.copyOf(real, textLen); // zeros = PAD_ID
        long[] mask = new long[textLen];
        Arrays.fill(mask, 0, real.length, 1);
        return new TokenizedPrompt(ids, mask, real.length);
    }

    /** The padded length (Wan's text_len, 512). */
    public int textLen() { return ids.length; }

    @Override public long[] ids() { return ids.clone(); }

    @Override public long[] mask() { return mask.clone(); }

    /** The real tokens, EOS included, without padding. */
    public long[] realIds() { return Arrays.copyOf(ids, length); }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenizedPrompt p && length == p.length && Arrays.equals(ids, p.ids) && Arrays.equals(mask, p.mask);
    }

    @Override
    public int hashCode() { return 31 * Arrays.hashCode(ids) + length; }

    @Override
    public String toString() {
        return "TokenizedPrompt[length=" + length + ", textLen=" + ids.length + ", ids=" + Arrays.toString(realIds()) + "]";
    }
}
