// Port of musubi-tuner training/sampling_prompts.py (line_to_prompt_dict) with the Wan defaults of
// wan_train_network.py (process_sample_prompts) and the rounding of HEAD.
package dev.kaze.training;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One sample prompt of musubi's line syntax, e.g.
 * {@code Studio Ghibli style. Woman dancing. --w 384 --h 384 --f 45 --d 7 --s 20}: the line is split
 * on {@code " --"}, segment 0 is the prompt, and every segment (segment 0 too) is matched by prefix,
 * case-insensitively, against {@code w h f d s g fs l n}; other segments are ignored, as musubi does.
 * Width and height are rounded down to multiples of 16 (at least 16), frames down to 4k+1, steps
 * clamped to [1, 1000].
 *
 * @param prompt          the text to render
 * @param width           --w (256)
 * @param height          --h (256)
 * @param frames          --f (1: a single image, saved as PNG)
 * @param seed            --d, or null for a random one at sampling time
 * @param steps           --s (20)
 * @param flowShift       --fs (14.5, musubi's sampling default)
 * @param cfgScale        --l (5.0); 1.0 turns CFG off
 * @param negativePrompt  --n, or null for Wan's default negative prompt
 */
public record SamplePrompt(String prompt, int width, int height, int frames, Long seed, int steps, double flowShift,
                           double cfgScale, String negativePrompt) {
    public static final int DEFAULT_SIDE = 256, DEFAULT_FRAMES = 1, DEFAULT_STEPS = 20;
    public static final double DEFAULT_FLOW_SHIFT = 14.5, DEFAULT_CFG = 5.0;
    /** Wan's sample_neg_prompt (wan/configs/shared_config.py), which musubi uses when a line has no --n. */
    public static final String WAN_NEGATIVE_PROMPT = "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
            + "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，"
            + "静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走";
    static final int MAX_SIDE = 2048, MAX_FRAMES = 201;

    private static final Pattern W = opt("w (\\d+)"), H = opt("h (\\d+)"), F = opt("f (\\d+)"), D = opt("d (\\d+)"),
            S = opt("s (\\d+)"), G = opt("g ([\\d.]+)"), FS = opt("fs ([\\d.]+)"), L = opt("l ([\\d.]+)"), N = opt("n (.+)");

    private static Pattern opt(String regex) { return Pattern.compile(regex, Pattern.CASE_INSENSITIVE | Pattern.DOTALL); }

    public SamplePrompt {
        if (prompt == null || prompt.isBlank()) throw new IllegalArgumentException("the prompt text is empty");
        if (width < 16 || width > MAX_SIDE || width % 16 != 0 || height < 16 || height > MAX_SIDE || height % 16 != 0)
            throw new IllegalArgumentException("--w/--h must be multiples of 16 between 16 and " + MAX_SIDE + ", got " + width + "x" + height);
        if (frames < 1 || frames > MAX_FRAMES || (frames - 1) % 4 != 0)
            throw new IllegalArgumentException("--f must be 4k+1 between 1 and " + MAX_FRAMES + ", got " + frames);
        if (steps < 1 || steps > 1000) throw new IllegalArgumentException("--s must be between 1 and 1000, got " + steps);
        if (!(flowShift > 0) || !Double.isFinite(flowShift) || flowShift > 100)
            throw new IllegalArgumentException("--fs must be a number in (0, 100], got " + flowShift);
        if (!(cfgScale >= 0) || !Double.isFinite(cfgScale) || cfgScale > 100)
            throw new IllegalArgumentException("--l must be a number in [0, 100], got " + cfgScale);
    }

    /** The negative prompt this sample uses: --n, else Wan's default. */
    public String negativeOrDefault() { return negativePrompt != null ? negativePrompt : WAN_NEGATIVE_PROMPT; }

    /**
     * Parses one line. Throws IllegalArgumentException naming the option when a value is out of range
     * (musubi logs a parse error and goes on; an API caller is better told).
     */
    public static SamplePrompt parse(String line) {
        String[] segments = line.strip().split(" --", -1);
        String prompt = segments[0];
        int width = DEFAULT_SIDE, height = DEFAULT_SIDE, frames = DEFAULT_FRAMES, steps = DEFAULT_STEPS;
        Long seed = null;
        double shift = DEFAULT_FLOW_SHIFT, cfg = DEFAULT_CFG;
        String negative = null;
        for (String seg : segments) {
            Matcher m;
            if ((m = W.matcher(seg)).lookingAt()) width = (int) Math.min(Integer.MAX_VALUE, parseLong("--w", m.group(1)));
            else if ((m = H.matcher(seg)).lookingAt()) height = (int) Math.min(Integer.MAX_VALUE, parseLong("--h", m.group(1)));
            else if ((m = F.matcher(seg)).lookingAt()) frames = (int) Math.min(Integer.MAX_VALUE, parseLong("--f", m.group(1)));
            else if ((m = D.matcher(seg)).lookingAt()) seed = parseLong("--d", m.group(1));
            else if ((m = S.matcher(seg)).lookingAt()) steps = (int) Math.max(1, Math.min(1000, parseLong("--s", m.group(1))));
            else if ((m = G.matcher(seg)).lookingAt()) parseDouble("--g", m.group(1));   // embedded guidance: HunyuanVideo only
            else if ((m = FS.matcher(seg)).lookingAt()) shift = parseDouble("--fs", m.group(1));
            else if ((m = L.matcher(seg)).lookingAt()) cfg = parseDouble("--l", m.group(1));
            else if ((m = N.matcher(seg)).lookingAt()) negative = m.group(1);
        }
        width = Math.max(16, width / 16 * 16);
        height = Math.max(16, height / 16 * 16);
        frames = Math.max(1, (frames - 1) / 4 * 4 + 1);
        return new SamplePrompt(prompt, width, height, frames, seed, steps, shift, cfg, negative);
    }

    /**
     * The prompts of a musubi .txt prompt file's text: one per line, blank lines and lines starting
     * with '#' skipped.
     */
    public static List<SamplePrompt> parseLines(String text) {
        List<SamplePrompt> out = new ArrayList<>();
        for (String line : text.split("\\R")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) continue;
            out.add(parse(l));
        }
        return out;
    }

    private static long parseLong(String option, String digits) {
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " " + digits + " is too large");
        }
    }

    private static double parseDouble(String option, String value) {
        try {
            return Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " " + value + " is not a number");
        }
    }
}
