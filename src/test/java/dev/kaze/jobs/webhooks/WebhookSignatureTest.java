package dev.kaze.jobs.webhooks;

import org.junit.jupiter.api.Test;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WebhookSignatureTest {
    // the example published with the Standard Webhooks specification and its reference libraries
    static final String SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    static final String SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    static final long SPEC_TIMESTAMP = 1614265330L;
    static final String SPEC_BODY = "{\"test\": 2432232314}";
    static final String SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    static final Duration TOLERANCE = WebhookSignature.DEFAULT_TOLERANCE;

    static Map<String, List<String>> headers(String id, String timestamp, String signature) {
        return Map.of("webhook-id", List.of(id), "webhook-timestamp", List.of(timestamp), "webhook-signature", List.of(signature));
    }

    static void verifySpec(Map<String, List<String>> headers, String body, Instant now) throws WebhookVerificationException {
        WebhookSignature.verify(SPEC_SECRET, headers, body.getBytes(StandardCharsets.UTF_8), TOLERANCE, now);
    }

    @Test
    void signsThePublishedExample() throws Exception {
        assertThat(WebhookSignature.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)).isEqualTo(SPEC_SIGNATURE);
        verifySpec(headers(SPEC_ID, "" + SPEC_TIMESTAMP, SPEC_SIGNATURE), SPEC_BODY, Instant.ofEpochSecond(SPEC_TIMESTAMP));
    }

    @Test
    void signsAFixedVectorAsJavaxCryptoComputesIt() throws Exception {
        byte[] key = new byte[32];
        for (int i = 0; i < key.length; i++) key[i] = (byte) (i * 7 + 3);
        String secret = "whsec_" + Base64.getEncoder().encodeToString(key);
        String body = "{\"type\":\"completed\",\"data\":{\"id\":\"job_1\",\"prompt\":\"となりのトトロ\"}}";

        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        byte[] expected = mac.doFinal(("msg_fixed.1700000000." + body).getBytes(StandardCharsets.UTF_8));

        assertThat(WebhookSignature.sign(secret, "msg_fixed", 1700000000L, body))
                .isEqualTo("v1," + Base64.getEncoder().encodeToString(expected));
    }

    @Test
    void rejectsATamperedBodyOrAnotherSecret() {
        Instant now = Instant.ofEpochSecond(SPEC_TIMESTAMP);
        var h = headers(SPEC_ID, "" + SPEC_TIMESTAMP, SPEC_SIGNATURE);
        assertThatThrownBy(() -> verifySpec(h, "{\"test\": 2432232315}", now))
                .isInstanceOf(WebhookVerificationException.class).hasMessageContaining("no v1 signature");
        assertThatThrownBy(() -> WebhookSignature.verify(WebhookSignature.newSecret(), h,
                SPEC_BODY.getBytes(StandardCharsets.UTF_8), TOLERANCE, now))
                .isInstanceOf(WebhookVerificationException.class);
        // the id and timestamp are signed too
        assertThatThrownBy(() -> verifySpec(headers("msg_other", "" + SPEC_TIMESTAMP, SPEC_SIGNATURE), SPEC_BODY, now))
                .isInstanceOf(WebhookVerificationException.class);
    }

    @Test
    void rejectsTimestampsOutsideTheTolerance() throws Exception {
        for (long offset : new long[]{-301, 301, -86_400}) {
            Instant now = Instant.ofEpochSecond(SPEC_TIMESTAMP - offset);
            assertThatThrownBy(() -> verifySpec(headers(SPEC_ID, "" + SPEC_TIMESTAMP, SPEC_SIGNATURE), SPEC_BODY, now))
                    .as("offset %d s", offset)
                    .isInstanceOf(WebhookVerificationException.class).hasMessageContaining("tolerance");
        }
        for (long offset : new long[]{-299, 299}) {
            verifySpec(headers(SPEC_ID, "" + SPEC_TIMESTAMP, SPEC_SIGNATURE), SPEC_BODY, Instant.ofEpochSecond(SPEC_TIMESTAMP - offset));
        }
        assertThatThrownBy(() -> verifySpec(headers(SPEC_ID, "yesterday", SPEC_SIGNATURE), SPEC_BODY, Instant.now()))
                .isInstanceOf(WebhookVerificationException.class).hasMessageContaining("Unix seconds");
    }

    @Test
    void acceptsAnyOfSeveralSignaturesAndIgnoresOtherVersions() throws Exception {
        Instant now = Instant.ofEpochSecond(SPEC_TIMESTAMP);
        String other = WebhookSignature.sign(WebhookSignature.newSecret(), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        verifySpec(headers(SPEC_ID, "" + SPEC_TIMESTAMP, other + " " + SPEC_SIGNATURE), SPEC_BODY, now);
        verifySpec(headers(SPEC_ID, "" + SPEC_TIMESTAMP, "v1a,abc " + SPEC_SIGNATURE + " v2,xyz"), SPEC_BODY, now);
        // the right MAC under another version tag does not count
        String asV2 = "v2," + SPEC_SIGNATURE.substring(3);
        assertThatThrownBy(() -> verifySpec(headers(SPEC_ID, "" + SPEC_TIMESTAMP, other + " " + asV2 + " garbage"), SPEC_BODY, now))
                .isInstanceOf(WebhookVerificationException.class);
    }

    @Test
    void findsHeadersWhateverTheirCaseAndNamesAMissingOne() throws Exception {
        Instant now = Instant.ofEpochSecond(SPEC_TIMESTAMP);
        verifySpec(Map.of("Webhook-Id", List.of(SPEC_ID), "WEBHOOK-TIMESTAMP", List.of("" + SPEC_TIMESTAMP),
                "Webhook-signature", List.of(SPEC_SIGNATURE)), SPEC_BODY, now);
        assertThatThrownBy(() -> verifySpec(Map.of("webhook-id", List.of(SPEC_ID), "webhook-timestamp",
                List.of("" + SPEC_TIMESTAMP)), SPEC_BODY, now))
                .isInstanceOf(WebhookVerificationException.class).hasMessage("missing header webhook-signature");
        assertThatThrownBy(() -> verifySpec(Map.of("webhook-timestamp", List.of("" + SPEC_TIMESTAMP),
                "webhook-signature", List.of(SPEC_SIGNATURE)), SPEC_BODY, now))
                .isInstanceOf(WebhookVerificationException.class).hasMessage("missing header webhook-id");
    }

    @Test
    void secretsAreWhsecAndBase64Of24To64Bytes() {
        String fresh = WebhookSignature.newSecret();
        assertThat(fresh).startsWith("whsec_");
        assertThat(WebhookSignature.key(fresh)).hasSize(32);
        assertThat(WebhookSignature.newSecret()).isNotEqualTo(fresh);
        assertThatCode(() -> WebhookSignature.key("whsec_" + Base64.getEncoder().encodeToString(new byte[64]))).doesNotThrowAnyException();

        assertThatThrownBy(() -> WebhookSignature.key(fresh.substring(6))).hasMessageContaining("whsec_");
        assertThatThrownBy(() -> WebhookSignature.key("whsec_not base64!")).hasMessageContaining("base64");
        assertThatThrownBy(() -> WebhookSignature.key("whsec_" + Base64.getEncoder().encodeToString(new byte[16])))
                .hasMessageContaining("16 bytes");
        assertThatThrownBy(() -> WebhookSignature.key("whsec_" + Base64.getEncoder().encodeToString(new byte[65])))
                .hasMessageContaining("65 bytes");
        assertThatThrownBy(() -> WebhookSignature.key(null)).isInstanceOf(IllegalArgumentException.class);
    }
}
