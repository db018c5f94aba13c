package dev.kaze.config;

import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.Recipe;
import dev.kaze.prompts.EnhancerSettings;
import dev.kaze.prompts.PromptEnhancer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.net.URI;

/** The prompt enhancer: on when kaze.prompt-enhancer.base-url is set, off (and saying so) otherwise. */
@Configuration(proxyBeanMethods = false)
public class PromptEnhancerConfig {
    @Bean
    PromptEnhancer promptEnhancer(KazeProperties props) {
        KazeProperties.PromptEnhancer p = props.promptEnhancer();
        if (p == null || p.baseUrl() == null || p.baseUrl().isBlank()) return PromptEnhancer.off();
        return new PromptEnhancer(new EnhancerSettings(URI.create(p.baseUrl().strip()), p.model(), p.apiKey(), p.timeout()),
                Recipe.TRIGGER, GenerateRequest.MAX_PROMPT_CHARS);
    }
}
