package dev.kaze.pipeline.text;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ByteTokenizerTest {

    @Test
    void asciiBytesAreShiftedByThreeThenEos() {
        TokenizedPrompt p = new ByteTokenizer(16).encode("Hi!");
        // 'H' 0x48, 'i' 0x69, '!' 0x21
        assertThat(p.realIds()).containsExactly(0x48 + 3, 0x69 + 3, 0x21 + 3, 1);
        assertThat(p.length()).isEqualTo(4);
    }

    @Test
    void nonAsciiTextIsItsUtf8Bytes() {
        // 猫 U+732B = E7 8C AB, é U+00E9 = C3 A9, 🙂 U+1F642 = F0 9F 99 82
        TokenizedPrompt p = new ByteTokenizer(16).encode("猫é🙂");
        assertThat(p.realIds()).containsExactly(
                0xE7 + 3, 0x8C + 3, 0xAB + 3, 0xC3 + 3, 0xA9 + 3, 0xF0 + 3, 0x9F + 3, 0x99 + 3, 0x82 + 3, 1);
        assertThat(Arrays.stream(p.ids()).max().getAsLong()).isLessThan(ByteTokenizer.VOCAB_SIZE);
    }

    @Test
    void padsWithZerosAndMasksRealTokens() {
        TokenizedPrompt p = new ByteTokenizer(8).encode("ab");
        assertThat(p.ids()).containsExactly('a' + 3, 'b' + 3, 1, 0, 0, 0, 0, 0);
        assertThat(p.mask()).containsExactly(1, 1, 1, 0, 0, 0, 0, 0);
        assertThat(p.length()).isEqualTo(3);
        assertThat(p.textLen()).isEqualTo(8);
    }

    @Test
    void truncatesToTextLenKeepingEosLast() {
        TokenizedPrompt p = new ByteTokenizer(4).encode("色调"); // 6 bytes: E8 89 B2 E8 B0 83
        assertThat(p.ids()).containsExactly(0xE8 + 3, 0x89 + 3, 0xB2 + 3, 1);
        assertThat(p.mask()).containsExactly(1, 1, 1, 1);
        assertThat(p.length()).isEqualTo(4);
    }

    @Test
    void emptyPromptIsEosOnlyAndTokenizeCleans() {
        ByteTokenizer t = new ByteTokenizer(4);
        assertThat(t.encode("").ids()).containsExactly(1, 0, 0, 0);
        assertThat(t.tokenize(" \u3000&lt;\t").ids()).containsExactly('<' + 3, 1, 0, 0);
        assertThatThrownBy(() -> new ByteTokenizer(0)).hasMessageContaining("at least 1");
    }

    @Test
    void tokenizedPromptCopiesItsArraysAndChecksTheMask() {
        long[] ids = {5, 1, 0};
        TokenizedPrompt p = new TokenizedPrompt(ids, new long[] {1, 1, 0}, 2);
        ids[0] = 99;
        p.ids()[1] = 99;
        assertThat(p.ids()).containsExactly(5, 1, 0);
        assertThatThrownBy(() -> new TokenizedPrompt(new long[] {5, 1, 0}, new long[] {1, 0, 1}, 2))
                .hasMessageContaining("mask");
        assertThatThrownBy(() -> new TokenizedPrompt(new long[] {5, 1, 7}, new long[] {1, 1, 0}, 2))
                .hasMessageContaining("padding");
    }
}
