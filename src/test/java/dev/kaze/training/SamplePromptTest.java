package dev.kaze.training;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplePromptTest {
    /** The spec's example line (§6). */
    @Test void specExample() {
        SamplePrompt p = SamplePrompt.parse("Studio Ghibli style. Woman dancing in the bar. --w 384 --h 384 --f 45 --d 7 --s 20");
        assertEquals("Studio Ghibli style. Woman dancing in the bar.", p.prompt());
        assertEquals(384, p.width());
        assertEquals(384, p.height());
        assertEquals(45, p.frames());
        assertEquals(7L, p.seed());
        assertEquals(20, p.steps());
        assertEquals(14.5, p.flowShift(), "no --fs: musubi's sampling default");
        assertEquals(5.0, p.cfgScale());
        assertNull(p.negativePrompt());
        assertTrue(p.negativeOrDefault().startsWith("色调艳丽，过曝"), "Wan's default negative prompt");
    }

    @Test void defaultsWithoutOptions() {
        SamplePrompt p = SamplePrompt.parse("a cat");
        assertEquals(List.of(256, 256, 1, 20), List.of(p.width(), p.height(), p.frames(), p.steps()));
        assertNull(p.seed());
    }

    @Test void optionsAreCaseInsensitivePrefixesAndUnknownOnesIgnored() {
        SamplePrompt p = SamplePrompt.parse("a fox --W 100 --H 70 --F 48 --FS 3.5 --L 1.0 --N blurry, dark --i image.png --g 6.0 --S 5000 --zz 1");
        assertEquals("a fox", p.prompt());
        assertEquals(96, p.width(), "rounded down to a multiple of 16");
        assertEquals(64, p.height());
        assertEquals(45, p.frames(), "rounded down to 4k+1");
        assertEquals(3.5, p.flowShift());
        assertEquals(1.0, p.cfgScale());
        assertEquals("blurry, dark", p.negativePrompt());
        assertEquals(1000, p.steps(), "clamped to [1, 1000]");
        // a value that does not match the option's pattern leaves the option unset, as musubi does
        assertEquals(256, SamplePrompt.parse("x --w wide").width());
        // "--fs" is not "--f"
        assertEquals(1, SamplePrompt.parse("x --fs 3").frames());
    }

    @Test void txtFileLinesSkipBlanksAndComments() {
        List<SamplePrompt> ps = SamplePrompt.parseLines("# header\n\na --w 32\r\n  # note\nb --h 48\n");
        assertEquals(List.of("a", "b"), ps.stream().map(SamplePrompt::prompt).toList());
    }

    @Test void impossibleValuesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> SamplePrompt.parse("x --w 4096"));
        assertThrows(IllegalArgumentException.class, () -> SamplePrompt.parse("x --l 500"));
        assertThrows(IllegalArgumentException.class, () -> SamplePrompt.parse("x --f 999"));
    }
}
