package dev.kaze.json;

import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.json.JsonFactory;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The one Jackson mapper of the code base, for every layer (plain Java below {@code jobs} included).
 * Reads strictly: a duplicate key, trailing tokens after the value, nesting deeper than 64, a
 * number longer than 100 digits or a name longer than 1000 characters are errors, so client
 * bodies, checkpoint headers and configs are all held to the same rules.
 */
public final class Json {
    public static final JsonMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxNestingDepth(64).maxNumberLength(100).maxNameLength(1000).build())
                    .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private Json() {}
}
