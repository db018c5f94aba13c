package dev.kaze.prompts;

import dev.kaze.json.Json;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Expands a short idea into a full prompt in the LoRA author's manner by asking an OpenAI-compatible
 * chat-completions endpoint (non-streaming): a system message with the author's rules, the idea as the
 * user message. A reply must start with the trigger phrase and fit the prompt limit; anything else, an
 * error answer, an unreachable endpoint or a timeout is an {@link EnhancerException}. Blocking: call it
 * off event-loop and device threads. {@link #off()} is the enhancer of a server that configured none.
 */
public final class PromptEnhancer {
    private static final Pattern THINKING = Pattern.compile("(?s)^\\s*<think>.*?</think>");

    private final EnhancerSettings settings;
    private final String trigger;
    private final int maxChars;
    private final HttpClient http;

    /** trigger: the phrase every enhanced prompt starts with; maxChars: the longest prompt a render takes. */
    public PromptEnhancer(EnhancerSettings settings, String trigger, int maxChars) {
        this.settings = settings;
        this.trigger = trigger;
        this.maxChars = maxChars;
        this.http = settings == null ? null : HttpClient.newBuilder().connectTimeout(settings.timeout())
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** The enhancer of a server without a configured endpoint: {@link #enabled()} is false. */
    public static PromptEnhancer off() { return new PromptEnhancer(null, null, 0); }

    public boolean enabled() { return settings != null; }

    /** The configured model, or null when off. */
    public String model() { return settings == null ? null : settings.model(); }

    /** The system message: the author's meta-prompt rules, in Kaze's words. */
    public static String systemPrompt(String trigger) {
        return "You turn a short idea for a video into one prompt for a text-to-video model that was fine-tuned on "
                + "Studio Ghibli films. Rules: Keep what the user asked for: the subject, the action and anything "
                + "they named stay as they are, and text in quotation marks is kept word for word. When the idea is "
                + "short, add detail: what the characters look like, their expressions, clothes and poses, where things "
                + "are in the scene. Keep the Ghibli look: soft watercolour backgrounds, simple expressive characters, "
                + "a warm nostalgic mood; name no other art style, artist or medium. Describe natural motion and gentle, "
                + "organic camera movement (a slow pan, a tracking shot, a soft zoom). Write 80 to 100 words of English. "
                + "Begin with exactly \"" + trigger + "\" and answer with the prompt alone: no title, no quotes around it, "
                + "no notes or explanations.";
    }

    /** The enhanced prompt for prompt. */
    public EnhancedPrompt enhance(String prompt) {
        if (settings == null) throw new IllegalStateException("the prompt enhancer is off (kaze.prompt-enhancer.base-url is not set)");
        String where = settings.completionsUrl().toString();
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("model", settings.model());
        ArrayNode messages = body.putArray("messages");
        messages.addObject().put("role", "system").put("content", systemPrompt(trigger));
        messages.addObject().put("role", "user").put("content", prompt);
        body.put("stream", false);
        HttpRequest.Builder request = HttpRequest.newBuilder(settings.completionsUrl()).timeout(settings.timeout())
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8));
        if (settings.apiKey() != null) request.header("Authorization", "Bearer " + settings.apiKey());
        HttpResponse<String> answer;
        try {
            answer = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (HttpTimeoutException e) {
            throw new EnhancerException(EnhancerException.Kind.TIMEOUT, "the prompt enhancer at " + where + " did not answer within "
                    + settings.timeout().toMillis() + " ms (kaze.prompt-enhancer.timeout)", e);
        } catch (ConnectException e) {
            throw new EnhancerException(EnhancerException.Kind.FAILED, "cannot reach the prompt enhancer at " + where
                    + "; is the server running? (kaze.prompt-enhancer.base-url)", e);
        } catch (IOException e) {
            throw new EnhancerException(EnhancerException.Kind.FAILED, "the prompt enhancer at " + where + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EnhancerException(EnhancerException.Kind.FAILED, "interrupted while waiting for the prompt enhancer", e);
        }
        return new EnhancedPrompt(reply(answer, where), settings.model());
    }

    private String reply(HttpResponse<String> answer, String where) {
        JsonNode json;
        try {
            json = Json.MAPPER.readTree(answer.body());
        } catch (JacksonException e) {
            json = null;
        }
        if (answer.statusCode() / 100 != 2) {
            String message = json == null ? clip(answer.body()) : json.at("/error/message").asString(clip(answer.body()));
            throw new EnhancerException(EnhancerException.Kind.FAILED, "the prompt enhancer at " + where + " answered "
                    + answer.statusCode() + ": " + message);
        }
        JsonNode content = json == null ? null : json.at("/choices/0/message/content");
        if (content == null || !content.isString())
            throw new EnhancerException(EnhancerException.Kind.FAILED, "the prompt enhancer at " + where
                    + " did not answer as chat completions do (no choices[0].message.content): " + clip(answer.body()));
        String text = THINKING.matcher(content.asString()).replaceFirst("").strip();
        if (text.length() >= 2 && text.startsWith("\"") && text.endsWith("\"")) text = text.substring(1, text.length() - 1).strip();
        if (!text.regionMatches(true, 0, trigger, 0, trigger.length()))
            throw new EnhancerException(EnhancerException.Kind.FAILED, "the prompt enhancer's reply does not start with the trigger phrase \""
                    + trigger + "\" (model " + settings.model() + "): " + clip(text));
        if (text.length() > maxChars)
            throw new EnhancerException(EnhancerException.Kind.FAILED, "the prompt enhancer's reply has " + text.length()
                    + " characters; a prompt has at most " + maxChars);
        return text;
    }

    private static String clip(String s) {
        if (s == null || s.isBlank()) return "(empty)";
        String one = s.strip().replaceAll("\\s+", " ");
        return one.length() > 200 ? one.substring(0, 200) + "…" : one;
    }
}
