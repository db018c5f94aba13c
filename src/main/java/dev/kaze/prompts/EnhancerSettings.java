package dev.kaze.prompts;

import java.net.URI;
import java.time.Duration;

/**
 * Where the prompt enhancer's chat-completions endpoint is: an OpenAI-compatible API root (OpenAI, a local
 * Ollama, vLLM or llama.cpp server), the model it serves, an optional API key (sent as a Bearer token), and
 * the longest a whole answer may take.
 */
public record EnhancerSettings(URI baseUrl, String model, String apiKey, Duration timeout) {
    public EnhancerSettings {
        if (baseUrl == null || !("http".equals(baseUrl.getScheme()) || "https".equals(baseUrl.getScheme())) || baseUrl.getHost() == null)
            throw new IllegalArgumentException("kaze.prompt-enhancer.base-url must be an http(s) URL such as http://127.0.0.1:11434/v1, got " + baseUrl);
        if (model == null || model.isBlank())
            throw new IllegalArgumentException("kaze.prompt-enhancer.model must name the model the endpoint serves (e.g. qwen2.5:7b-instruct)");
        if (timeout == null || timeout.isNegative() || timeout.isZero())
            throw new IllegalArgumentException("kaze.prompt-enhancer.timeout must be positive, got " + timeout);
        apiKey = apiKey == null || apiKey.isBlank() ? null : apiKey.strip();
    }

    /** The chat-completions URL: the base URL with {@code /chat/completions} appended. */
    public URI completionsUrl() {
        String base = baseUrl.toString();
        return URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + "/chat/completions");
    }
}
