package dev.kaze.pipeline.text;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class T5ConfigTest {
    @Test
    void readsWanFieldNames() {
        T5Config c = T5Config.fromJson("{\"vocab\": 300, \"dim\": 32, \"dim_attn\": 32, \"dim_ffn\": 48, \"num_heads\": 4,"
                + " \"num_layers\": 2, \"num_buckets\": 32, \"shared_pos\": false, \"eps\": 1e-06}", "t5.safetensors");
        assertEquals(new T5Config(300, 32, 32, 48, 4, 2, 32, false, 1e-6), c);
        assertEquals(8, c.headDim());
    }

    @Test
    void readsHfUmt5Config() {
        // comfy/text_encoders/umt5_config_xxl.json (spec §1.4)
        T5Config c = T5Config.fromJson("{\"d_ff\": 10240, \"d_kv\": 64, \"d_model\": 4096, \"num_heads\": 64,"
                + " \"num_layers\": 24, \"relative_attention_num_buckets\": 32, \"dense_act_fn\": \"gelu_pytorch_tanh\","
                + " \"is_gated_act\": true, \"layer_norm_epsilon\": 1e-6, \"model_type\": \"umt5\", \"vocab_size\": 256384}",
                "umt5_config_xxl.json");
        assertEquals(T5Config.UMT5_XXL, c);
    }

    @Test
    void invalidConfigsSayWhatIsWrongAndWhere() {
        var e = assertThrows(IllegalArgumentException.class, () -> T5Config.fromJson(
                "{\"vocab\": 300, \"dim\": 32, \"dim_attn\": 30, \"dim_ffn\": 48, \"num_heads\": 4, \"num_layers\": 2,"
                        + " \"num_buckets\": 32}", "x.safetensors"));
        assertTrue(e.getMessage().contains("dim_attn") && e.getMessage().contains("x.safetensors"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> T5Config.fromJson("{\"vocab\": 300}", "y.json"));
        assertTrue(e.getMessage().contains("'dim'") && e.getMessage().contains("y.json"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> T5Config.fromJson("not json", "z.json"));
        assertTrue(e.getMessage().contains("z.json"), e.getMessage());
    }
}
