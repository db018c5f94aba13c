package dev.kaze.api;

import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.prompts.EnhancedPrompt;
import dev.kaze.prompts.EnhancerException;
import dev.kaze.prompts.PromptEnhancer;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code POST /v1/prompts/enhance}: a short idea → a full prompt in the LoRA author's manner, from the configured
 * chat-completions endpoint. 503 {@code prompt-enhancer-off} when none is configured, 502
 * {@code prompt-enhancer-failed} when it fails or its reply is unusable, 504 {@code prompt-enhancer-timeout}.
 */
@RestController
@RequestMapping(PromptController.PATH)
public class PromptController {
    public static final String PATH = "/v1/prompts";
    /** What to set to turn the enhancer on, for problems that say it is off. */
    public static final String HOW_TO_TURN_ON = "set kaze.prompt-enhancer.base-url (an OpenAI-compatible API root such as "
            + "http://127.0.0.1:11434/v1) and kaze.prompt-enhancer.model, and kaze.prompt-enhancer.api-key if the endpoint needs one";

    private final PromptEnhancer enhancer;

    public PromptController(PromptEnhancer enhancer) { this.enhancer = enhancer; }

    @PostMapping("/enhance")
    public Mono<ObjectNode> enhance(ServerWebExchange exchange) {
        Caller.of(exchange);   // authenticated like every other call
        if (!enhancer.enabled())
            return Mono.error(new ApiException(HttpStatus.SERVICE_UNAVAILABLE, "prompt-enhancer-off",
                    "the prompt enhancer is off on this server; " + HOW_TO_TURN_ON));
        return JsonBodies.read(exchange, 64 * 1024).map(PromptController::prompt).flatMap(prompt -> Requests.blocking(() -> {
            EnhancedPrompt e = call(enhancer, prompt);
            return Json.MAPPER.createObjectNode().put("object", "prompt.enhancement").put("prompt", prompt)
                    .put("enhanced_prompt", e.prompt()).put("model", e.model());
        }));
    }

    /** The enhancer's answer, its failures as 502 and 504 problems. Blocking. */
    static EnhancedPrompt call(PromptEnhancer enhancer, String prompt) {
        try {
            return enhancer.enhance(prompt);
        } catch (EnhancerException e) {
            throw e.kind() == EnhancerException.Kind.TIMEOUT
                    ? new ApiException(HttpStatus.GATEWAY_TIMEOUT, "prompt-enhancer-timeout", e.getMessage())
                    : new ApiException(HttpStatus.BAD_GATEWAY, "prompt-enhancer-failed", e.getMessage());
        }
    }

    private static String prompt(JsonNode body) {
        if (body == null || !body.isObject()) throw ValidationException.of("body", "must be a JSON object with a prompt");
        for (String name : body.propertyNames())
            if (!name.equals("prompt")) throw ValidationException.of(name, "unknown field (the body has only a prompt)");
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) throw ValidationException.of("prompt", "is required");
        if (!p.isString() || p.asString().isBlank()) throw ValidationException.of("prompt", "must be a non-empty string");
        if (p.asString().length() > GenerateRequest.MAX_PROMPT_CHARS)
            throw ValidationException.of("prompt", "at most " + GenerateRequest.MAX_PROMPT_CHARS + " characters, got " + p.asString().length());
        return p.asString().strip();
    }
}
