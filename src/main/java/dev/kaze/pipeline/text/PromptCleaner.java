// Port of wan/modules/tokenizers.py, basic_clean + whitespace_clean (clean='whitespace')
package dev.kaze.pipeline.text;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Cleans a prompt the way Wan's {@code HuggingfaceTokenizer(clean='whitespace')} does before
 * tokenising:
 * <ol>
 *   <li>{@code ftfy.fix_text(text)} — <b>not ported</b> (ftfy has no Java port). ftfy repairs
 *       mojibake (UTF-8 decoded as Latin-1/cp1252, e.g. "cafÃ©" → "café"), curly quotes are
 *       left alone by default, and it applies NFC normalisation and a few terminal-escape and
 *       control-character fixes. For well-formed UTF-8 prompts typed or pasted by a user it is
 *       a no-op apart from NFC; a prompt that is mojibake or not in NFC can tokenise differently
 *       from the reference.</li>
 *   <li>{@code html.unescape(html.unescape(text))} — ported exactly, with Python's rules: the
 *       full HTML5 named-reference table (resource {@code html5-entities.tsv}), names accepted
 *       without the ';' where HTML allows it ("&amp;copy2024" → "©2024", the longest legacy
 *       prefix wins), decimal and hex numeric references with or without ';', the HTML5
 *       remapping of C1 references (&amp;#150; → "–"), surrogates and values above U+10FFFF →
 *       U+FFFD, and the non-characters and controls Python drops.</li>
 *   <li>{@code text.strip()}, {@code re.sub(r'\s+', ' ', text)}, {@code text.strip()} — with
 *       Python's Unicode whitespace ({@code str.isspace}), which includes U+00A0, U+3000, U+2028,
 *       U+0085 and U+001C–U+001F, but not U+200B.</li>
 * </ol>
 */
public final class PromptCleaner {
    private static final Map<String, String> ENTITIES = loadEntities();

    /** References that HTML5 maps to a different character (Python's {@code _invalid_charrefs}). */
    private static final Map<Integer, String> REMAPPED = remapped();

    private PromptCleaner() {}

    /** The prompt as Wan's whitespace clean leaves it (minus ftfy, see the class comment). */
    public static String clean(String text) {
        String s = unescape(unescape(text));
        return collapseWhitespace(s);
    }

    /** Python's {@code str.strip()}, {@code re.sub(r'\s+', ' ', s)}, {@code str.strip()}. */
    static String collapseWhitespace(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean pendingSpace = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (isSpace(c)) {
                pendingSpace = out.length() > 0;
            } else {
                if (pendingSpace) out.append(' ');
                pendingSpace = false;
                out.append(c);
            }
        }
        return out.toString();
    }

    /**
     * Python's {@code str.isspace()} for one character, which is also what {@code \s} matches in a
     * str pattern: bidirectional class WS, B or S, or general category Zs. All such characters are
     * in the BMP.
     */
    static boolean isSpace(char c) {
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0
                || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029
                || c == 0x202F || c == 0x205F || c == 0x3000;
    }

    /**
     * Python's {@code html.unescape(s)}: one left-to-right pass replacing every match of
     * {@code &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)}.
     */
    static String unescape(String s) {
        if (s.indexOf('&') < 0) return s;
        StringBuilder out = new StringBuilder(s.length());
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c != '&') {
                out.append(c);
                i++;
                continue;
            }
            int end = numericEnd(s, i + 1);
            if (end > 0) {
                out.append(numeric(s.substring(i + 1, end)));
                i = end;
                continue;
            }
            end = namedEnd(s, i + 1);
            if (end > 0) {
                out.append(named(s.substring(i + 1, end)));
                i = end;
                continue;
            }
            out.append(c);
            i++;
        }
        return out.toString();
    }

    /** End (exclusive) of {@code #[0-9]+;?} or {@code #[xX][0-9a-fA-F]+;?} at from, or -1. */
    private static int numericEnd(String s, int from) {
        int n = s.length();
        if (from >= n || s.charAt(from) != '#') return -1;
        int j = from + 1;
        int digits = j;
        while (j < n && isDigit(s.charAt(j))) j++;
        if (j == digits) {
            if (j >= n || (s.charAt(j) != 'x' && s.charAt(j) != 'X')) return -1;
            j++;
            digits = j;
            while (j < n && isHexDigit(s.charAt(j))) j++;
            if (j == digits) return -1;
        }
        if (j < n && s.charAt(j) == ';') j++;
        return j;
    }

    /** End (exclusive) of {@code [^\t\n\f <&#;]{1,32};?} at from (32 code points), or -1. */
    private static int namedEnd(String s, int from) {
        int n = s.length();
        int j = from;
        int count = 0;
        while (j < n && count < 32) {
            int cp = s.codePointAt(j);
            if (cp == '\t' || cp == '\n' || cp == '\f' || cp == ' ' || cp == '<' || cp == '&' || cp == '#' || cp == ';') break;
            j += Character.charCount(cp);
            count++;
        }
        if (count == 0) return -1;
        if (j < n && s.charAt(j) == ';') j++;
        return j;
    }

    /** Python's {@code _replace_charref} for a numeric reference ("#65;", "#x41"). */
    private static String numeric(String ref) {
        boolean hex = ref.charAt(1) == 'x' || ref.charAt(1) == 'X';
        String digits = ref.substring(hex ? 2 : 1, ref.endsWith(";") ? ref.length() - 1 : ref.length());
        int radix = hex ? 16 : 10;
        // Python's int is unbounded; anything beyond U+10FFFF becomes U+FFFD, so cap the parse.
        String significant = digits.replaceFirst("^0+(?=.)", "");
        long num = significant.length() > 8 ? Long.MAX_VALUE : Long.parseLong(significant, radix);
        String remapped = REMAPPED.get((int) Math.min(num, Integer.MAX_VALUE));
        if (remapped != null) return remapped;
        if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return "\uFFFD";
        int cp = (int) num;
        if (isDroppedCodePoint(cp)) return "";
        return Character.toString(cp);
    }

    /** Python's {@code _invalid_codepoints}: controls and non-characters a reference may not produce. */
    private static boolean isDroppedCodePoint(int cp) {
        return (cp >= 0x1 && cp <= 0x8) || cp == 0xB || (cp >= 0xE && cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F)
                || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
    }

    /** Python's {@code _replace_charref} for a named reference ("amp;", "copy2024", "bogus;"). */
    private static String named(String ref) {
        String value = ENTITIES.get(ref);
        if (value != null) return value;
        // the longest prefix of at least two characters that is a name (only legacy names lack ';')
        int[] cps = ref.codePoints().toArray();
        for (int x = cps.length - 1; x > 1; x--) {
            String prefix = new String(cps, 0, x);
            value = ENTITIES.get(prefix);
            if (value != null) return value + ref.substring(prefix.length());
        }
        return "&" + ref;
    }

    private static boolean isDigit(char c) { return c >= '0' && c <= '9'; }

    private static boolean isHexDigit(char c) {
        return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    private static Map<Integer, String> remapped() {
        Map<Integer, String> m = new HashMap<>();
        m.put(0x00, "\uFFFD");
        m.put(0x0D, "\r");
        // HTML5: C1 references are read as windows-1252; the five holes stay themselves
        String cp1252 = "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F"
                + "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";
        for (int i = 0; i < 32; i++) m.put(0x80 + i, String.valueOf(cp1252.charAt(i)));
        return Map.copyOf(m);
    }

    private static Map<String, String> loadEntities() {
        String resource = "html5-entities.tsv";
        InputStream in = PromptCleaner.class.getResourceAsStream(resource);
        if (in == null) {
            throw new IllegalStateException("Resource dev/kaze/pipeline/text/" + resource
                    + " is missing from the classpath; rebuild the application jar.");
        }
        Map<String, String> m = new HashMap<>(4096);
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                int tab = line.indexOf('\t');
                StringBuilder value = new StringBuilder(2);
                for (String hex : line.substring(tab + 1).split(" ")) value.appendCodePoint(Integer.parseInt(hex, 16));
                m.put(line.substring(0, tab), value.toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read resource dev/kaze/pipeline/text/" + resource, e);
        }
        return Map.copyOf(m);
    }
}
