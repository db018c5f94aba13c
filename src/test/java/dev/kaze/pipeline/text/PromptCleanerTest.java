package dev.kaze.pipeline.text;

import org.junit.jupiter.api.Test;

import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Expected strings are what CPython 3.11's html.unescape / str.strip / re.sub(r'\s+') give. */
class PromptCleanerTest {

    @Test
    void commonEntities() {
        assertThat(PromptCleaner.clean("&amp; &lt; &gt; &quot; &#39; &#x27; &nbsp;x")).isEqualTo("& < > \" ' ' x");
    }

    @Test
    void unescapesTwice() {
        assertThat(PromptCleaner.clean("&amp;lt;b&amp;gt;")).isEqualTo("<b>");
        // &amp;nbsp; → &nbsp; → U+00A0, which is whitespace and stripped
        assertThat(PromptCleaner.clean("&amp;nbsp;")).isEmpty();
        assertThat(PromptCleaner.unescape("&amp;lt;")).isEqualTo("&lt;"); // one pass is one pass
    }

    @Test
    void legacyNamesWithoutSemicolonAndLongestPrefix() {
        assertThat(PromptCleaner.clean("&copy2024 &amp &ltx &ampx;")).isEqualTo("\u00A92024 & <x &x;");
        // &notit; → ¬it; (legacy "not" is the longest prefix), &notin; is a name of its own
        assertThat(PromptCleaner.clean("&notit; &notin;")).isEqualTo("\u00ACit; \u2209");
    }

    @Test
    void unknownOrSemicolonOnlyNamesStay() {
        assertThat(PromptCleaner.clean("&hellip &hellip; &bogus; &Amp;")).isEqualTo("&hellip \u2026 &bogus; &Amp;");
        assertThat(PromptCleaner.clean("&# &#x; & a&b &;")).isEqualTo("&# &#x; & a&b &;");
        String longName = "&" + "a".repeat(40) + ";";
        assertThat(PromptCleaner.clean(longName)).isEqualTo(longName);
    }

    @Test
    void multiCodePointEntity() {
        assertThat(PromptCleaner.clean("&NotEqualTilde;")).isEqualTo("\u2242\u0338");
    }

    @Test
    void numericReferences() {
        assertThat(PromptCleaner.clean("&#65&#x42;&#X43;")).isEqualTo("ABC");
        assertThat(PromptCleaner.clean("&#00000000065;&#x000000041;")).isEqualTo("AA");
        assertThat(PromptCleaner.clean("&#x1F642;")).isEqualTo("\uD83D\uDE42");
        // C1 references are read as windows-1252 (&#150; en dash), except its holes (&#x81; stays U+0081)
        assertThat(PromptCleaner.clean("&#150;&#x81;")).isEqualTo("\u2013\u0081");
        // NUL, surrogates and anything above U+10FFFF → U+FFFD; DEL and non-characters vanish
        assertThat(PromptCleaner.clean("&#0;&#xD800;&#1114112;&#99999999999999999999;&#x7F;&#xFFFE;&#x10FFFF;|"))
                .isEqualTo("\uFFFD\uFFFD\uFFFD\uFFFD|");
        // &#13; is a carriage return, i.e. whitespace
        assertThat(PromptCleaner.clean("a&#13;b")).isEqualTo("a b");
    }

    @Test
    void tabsNewlinesAndUnicodeSpacesCollapse() {
        assertThat(PromptCleaner.clean("\t a\n\nb\r\n c\u3000\u3000d\u00A0e\u2028f\u0085g\u001Fh\u200Bi "))
                .isEqualTo("a b c d e f g h\u200Bi");
        assertThat(PromptCleaner.clean("\u3000色调艳丽，\t过曝\n\n静态\u3000")).isEqualTo("色调艳丽， 过曝 静态");
        assertThat(PromptCleaner.clean(" \t\n\u3000 ")).isEmpty();
        assertThat(PromptCleaner.clean("")).isEmpty();
        assertThat(PromptCleaner.clean("plain")).isEqualTo("plain");
    }

    @Test
    void whitespaceIsExactlyPythonsStrIsspace() {
        // [c for c in range(0x110000) if chr(c).isspace()] in CPython 3.11 (Unicode 14)
        Set<Integer> python = Set.of(0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
                0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
                0x2028, 0x2029, 0x202F, 0x205F, 0x3000);
        Set<Integer> ours = IntStream.rangeClosed(0, 0xFFFF).filter(c -> PromptCleaner.isSpace((char) c))
                .boxed().collect(Collectors.toSet());
        assertThat(ours).isEqualTo(python);
    }
}
