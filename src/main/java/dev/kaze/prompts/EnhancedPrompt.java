package dev.kaze.prompts;

/** The enhancer's prompt and the model that wrote it. */
public record EnhancedPrompt(String prompt, String model) {}
