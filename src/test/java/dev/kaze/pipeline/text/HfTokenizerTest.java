package dev.kaze.pipeline.text;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * HfTokenizer over a small umT5-like tokenizer.json written here: a SentencePiece Unigram model
 * with the ▁ Metaspace pre-tokenizer and decoder, an NFKC normaliser (SentencePiece's nmt_nfkc
 * family), {@code <pad>}=0, {@code </s>}=1, {@code <unk>}=2, and a TemplateProcessing
 * post-processor appending {@code </s>}. Expected ids are derived by hand from the vocabulary
 * below: Unigram picks the segmentation with the highest total score, and the scores are chosen
 * so that the whole-word pieces win by a wide margin where they exist.
 */
class HfTokenizerTest {
    static final String SP = "\u2581";

    /** piece → score, in id order. */
    static final Map<String, Double> VOCAB = new LinkedHashMap<>();

    static {
        VOCAB.put("<pad>", 0.0);     // 0
        VOCAB.put("</s>", 0.0);      // 1
        VOCAB.put("<unk>", 0.0);     // 2
        VOCAB.put(SP, -2.0);         // 3
        VOCAB.put(SP + "a", -3.0);   // 4
        VOCAB.put(SP + "cat", -3.0); // 5
        VOCAB.put(SP + "sitting", -4.0); // 6
        VOCAB.put(SP + "on", -3.0);  // 7
        VOCAB.put(SP + "the", -3.0); // 8
        VOCAB.put(SP + "mat", -4.0); // 9
        VOCAB.put(".", -3.0);        // 10
        VOCAB.put(",", -3.0);        // 11
        for (char c = 'a'; c <= 'z'; c++) VOCAB.put(String.valueOf(c), -6.0); // 12..37 ('d' 15, 'g' 18, 'o' 26)
        // from Wan's default negative prompt
        VOCAB.put("色调", -4.0);      // 38
        VOCAB.put("艳丽", -4.0);      // 39
        VOCAB.put("过曝", -5.0);      // 40
        VOCAB.put("静态", -4.0);      // 41
        VOCAB.put("细节", -4.0);      // 42
        VOCAB.put("模糊", -4.0);      // 43
        VOCAB.put("不清", -5.0);      // 44
        VOCAB.put("模", -8.0);        // 45
        VOCAB.put("糊", -8.0);        // 46
        // Japanese
        VOCAB.put(SP + "桜", -6.0);   // 47
        VOCAB.put("桜", -5.0);        // 48
        VOCAB.put("の", -3.0);        // 49
        VOCAB.put("花", -5.0);        // 50
        VOCAB.put("が", -3.0);        // 51
        VOCAB.put("咲く", -4.0);      // 52
        VOCAB.put("咲", -8.0);        // 53
        VOCAB.put("く", -6.0);        // 54
        VOCAB.put("、", -3.0);        // 55
        VOCAB.put("美しい", -4.0);    // 56
        VOCAB.put("春", -5.0);        // 57
    }

    static Path json;
    static HfTokenizer tokenizer;

    static int id(String piece) {
        int i = 0;
        for (String p : VOCAB.keySet()) {
            if (p.equals(piece)) return i;
            i++;
        }
        throw new IllegalArgumentException(piece);
    }

    static String umt5LikeJson() {
        String vocab = VOCAB.entrySet().stream()
                .map(e -> "[\"" + e.getKey() + "\", " + e.getValue() + "]")
                .collect(Collectors.joining(",\n      "));
        String special = """
                {"id": %d, "content": "%s", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}""";
        return """
                {
                  "version": "1.0",
                  "truncation": null,
                  "padding": null,
                  "added_tokens": [%s, %s, %s],
                  "normalizer": {"type": "NFKC"},
                  "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
                  "post_processor": {
                    "type": "TemplateProcessing",
                    "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                    "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                             {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                    "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}
                  },
                  "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
                  "model": {
                    "type": "Unigram",
                    "unk_id": 2,
                    "vocab": [
                      %s
                    ],
                    "byte_fallback": false
                  }
                }
                """.formatted(special.formatted(0, "<pad>"), special.formatted(1, "</s>"), special.formatted(2, "<unk>"), vocab);
    }

    @BeforeAll
    static void load(@TempDir Path dir) throws IOException {
        json = Files.writeString(dir.resolve("tokenizer.json"), umt5LikeJson());
        tokenizer = HfTokenizer.open(dir, 512); // the directory form, as in the Wan checkpoint folder
    }

    @AfterAll
    static void close() {
        if (tokenizer != null) tokenizer.close();
    }

    static long[] ids(String... pieces) {
        long[] out = new long[pieces.length + 1];
        for (int i = 0; i < pieces.length; i++) out[i] = id(pieces[i]);
        out[pieces.length] = 1; // </s>
        return out;
    }

    @Test
    void asciiPromptGivesWholeWordPiecesThenEos() {
        TokenizedPrompt p = tokenizer.encode("a cat sitting on the mat.");
        assertThat(p.realIds()).containsExactly(4, 5, 6, 7, 8, 9, 10, 1);
        assertThat(p.realIds()).containsExactly(ids(SP + "a", SP + "cat", SP + "sitting", SP + "on", SP + "the", SP + "mat", "."));
    }

    @Test
    void wordOutsideTheVocabularyFallsBackToSingleCharacters() {
        // ▁dog: no ▁d/▁do/▁dog piece, so ▁ + d + o + g (-2 - 18) is the only segmentation
        assertThat(tokenizer.encode("a dog").realIds()).containsExactly(4, 3, 15, 26, 18, 1);
    }

    @Test
    void characterWithoutAnyPieceIsUnk() {
        assertThat(tokenizer.encode("a 猫").realIds()).containsExactly(4, 3, 2, 1);
    }

    @Test
    void chinesePromptFromTheDefaultNegativePrompt() {
        // NFKC turns the full-width comma U+FF0C into ','; 模糊 (-4) beats 模 + 糊 (-16)
        TokenizedPrompt p = tokenizer.encode("色调艳丽，过曝，静态，细节模糊不清");
        assertThat(p.realIds()).containsExactly(ids(SP, "色调", "艳丽", ",", "过曝", ",", "静态", ",", "细节", "模糊", "不清"));
        assertThat(p.realIds()).containsExactly(3, 38, 39, 11, 40, 11, 41, 11, 42, 43, 44, 1);
    }

    @Test
    void japanesePrompt() {
        // ▁桜 (-6) beats ▁ + 桜 (-7); 咲く (-4) beats 咲 + く (-14); 、 U+3001 is unchanged by NFKC
        TokenizedPrompt p = tokenizer.encode("桜の花が咲く、美しい春");
        assertThat(p.realIds()).containsExactly(ids(SP + "桜", "の", "花", "が", "咲く", "、", "美しい", "春"));
        assertThat(p.realIds()).containsExactly(47, 49, 50, 51, 52, 55, 56, 57, 1);
    }

    @Test
    void tokenizeCleansFirst() {
        // tabs, a newline and an ideographic space collapse to one space: two words, so a second ▁
        TokenizedPrompt p = tokenizer.tokenize("\t 色调艳丽&amp;amp;\u3000\n静态 \u3000");
        // "&amp;amp;" unescapes twice to "&", which is in no piece → <unk>
        assertThat(p.realIds()).containsExactly(3, 38, 39, 2, 3, 41, 1);
    }

    @Test
    void padsWithZerosToTextLenAndMasksRealTokensIncludingEos() {
        TokenizedPrompt p = tokenizer.encode("a cat");
        assertThat(p.textLen()).isEqualTo(512);
        assertThat(p.length()).isEqualTo(3);
        long[] ids = p.ids();
        long[] mask = p.mask();
        assertThat(ids).hasSize(512);
        assertThat(mask).hasSize(512);
        assertThat(Arrays.copyOf(ids, 3)).containsExactly(4, 5, 1);
        assertThat(Arrays.copyOfRange(ids, 3, 512)).containsOnly(0);
        assertThat(Arrays.copyOf(mask, 3)).containsOnly(1);
        assertThat(Arrays.copyOfRange(mask, 3, 512)).containsOnly(0);
        assertThat(Arrays.stream(mask).sum()).isEqualTo(p.length());
    }

    @Test
    void emptyPromptIsJustEos() {
        TokenizedPrompt p = tokenizer.encode("");
        assertThat(p.realIds()).containsExactly(1);
        assertThat(p.length()).isEqualTo(1);
    }

    @Test
    void overLongPromptIsTruncatedToTextLenKeepingEosLast() {
        // 600 words "▁a" → the first 511 and </s>
        TokenizedPrompt p = tokenizer.encode("a ".repeat(600).strip());
        assertThat(p.length()).isEqualTo(512);
        long[] ids = p.ids();
        assertThat(Arrays.copyOf(ids, 511)).containsOnly(4);
        assertThat(ids[511]).isEqualTo(1);
        assertThat(p.mask()).containsOnly(1);
    }

    @Test
    void shortTextLenTruncatesMixedPieces(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("t.json"), umt5LikeJson());
        try (HfTokenizer t8 = HfTokenizer.open(file, 8)) {
            TokenizedPrompt p = t8.encode("a cat sitting on the mat. a cat sitting on the mat.");
            assertThat(p.ids()).containsExactly(4, 5, 6, 7, 8, 9, 10, 1);
            assertThat(p.length()).isEqualTo(8);
            TokenizedPrompt shorter = t8.encode("a cat");
            assertThat(shorter.ids()).containsExactly(4, 5, 1, 0, 0, 0, 0, 0);
            assertThat(shorter.mask()).containsExactly(1, 1, 1, 0, 0, 0, 0, 0);
        }
    }

    @Test
    void missingOrBrokenFileIsReportedWithItsPath(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> HfTokenizer.open(dir.resolve("nope"), 512))
                .hasMessageContaining(dir.resolve("nope").toString()).hasMessageContaining("tokenizer.json");
        Path broken = Files.writeString(dir.resolve("broken.json"), "{\"model\": 42}");
        assertThatThrownBy(() -> HfTokenizer.open(broken, 512))
                .hasMessageContaining(broken.toString()).hasMessageContaining("not a valid");
    }

    /**
     * The native library comes out of the DJL jar on the classpath into the engine cache dir set
     * for the tests (target/djl-cache): this test runs in a sandbox that reaches nothing but Maven
     * Central, so a download attempt would fail here. DJL's telemetry and downloads are off, and
     * the CPU build is chosen even where a CUDA runtime is present.
     */
    @Test
    void nativeLibraryIsTheOneBundledInTheJarAndDjlStaysOffline() throws IOException {
        assertThat(tokenizer.encode("a").realIds()).containsExactly(4, 1); // loaded and working
        String bundled = "native/lib/linux-x86_64/cpu/libtokenizers.so";
        long bundledSize;
        try (InputStream in = Thread.currentThread().getContextClassLoader().getResourceAsStream(bundled)) {
            assertThat(in).as(bundled + " on the classpath").isNotNull();
            bundledSize = in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        Path cache = Path.of(System.getProperty("ENGINE_CACHE_DIR"), "tokenizers");
        List<Path> extracted = new ArrayList<>();
        try (Stream<Path> s = Files.walk(cache)) {
            s.filter(f -> f.getFileName().toString().equals("libtokenizers.so")).forEach(extracted::add);
        }
        assertThat(extracted).isNotEmpty();
        for (Path f : extracted) {
            assertThat(Files.size(f)).isEqualTo(bundledSize);
            assertThat(f.getParent().getFileName().toString()).contains("-cpu-linux-x86_64");
        }
        assertThat(System.getProperty("RUST_FLAVOR")).isEqualTo("cpu");
        assertThat(System.getProperty("OPT_OUT_TRACKING")).isEqualTo("true");
        assertThat(System.getProperty("ai.djl.offline")).isEqualTo("true");
    }
}
