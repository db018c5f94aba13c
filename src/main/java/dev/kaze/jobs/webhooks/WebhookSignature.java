package dev.kaze.jobs.webhooks;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * Signs and verifies webhook requests with the Standard Webhooks scheme
 * (https://www.standardwebhooks.com).
 *
 * <p>Every request Kaze sends carries three headers:
 * <ul>
 *   <li>{@code webhook-id}: the message id, unique per event and the same on every retry, so a
 *       receiver can drop duplicates (delivery is at least once);</li>
 *   <li>{@code webhook-timestamp}: when this attempt was sent, in Unix seconds;</li>
 *   <li>{@code webhook-signature}: {@code v1,} + base64(HMAC-SHA256(key,
 *       "{webhook-id}.{webhook-timestamp}.{body}")), where the key is the base64 text after
 *       {@code whsec_} in the job's secret, decoded. Several space-separated signatures may be
 *       present (for example while a secret is rotated); one match is enough.</li>
 * </ul>
 *
 * <p>To check a request in Java, pass the raw body exactly as received (before any JSON parsing):
 * <pre>{@code
 * try {
 *     WebhookSignature.verify(secret, request.headers(), rawBody, WebhookSignature.DEFAULT_TOLERANCE);
 * } catch (WebhookVerificationException e) {
 *     return 401;
 * }
 * }</pre>
 * Any Standard Webhooks library (JavaScript, Python, Go, ...) verifies the same requests.
 */
public final class WebhookSignature {
    public static final String ID_HEADER = "webhook-id";
    public static final String TIMESTAMP_HEADER = "webhook-timestamp";
    public static final String SIGNATURE_HEADER = "webhook-signature";
    public static final String SECRET_PREFIX = "whsec_";
    /** How far a request's timestamp may be from the receiver's clock, either way. */
    public static final Duration DEFAULT_TOLERANCE = Duration.ofMinutes(5);
    /** Key sizes the Standard Webhooks specification allows for secrets. */
    public static final int MIN_KEY_BYTES = 24, MAX_KEY_BYTES = 64;

    private static final SecureRandom RANDOM = new SecureRandom();

    private WebhookSignature() {
    }

    /** A fresh random secret: {@code whsec_} + base64 of 32 random bytes. */
    public static String newSecret() {
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        return SECRET_PREFIX + Base64.getEncoder().encodeToString(key);
    }

    /**
     * The HMAC key inside a secret of the form {@code whsec_<base64>}, holding 24 to 64 bytes.
     *
     * @throws IllegalArgumentException naming what is wrong with the secret (never echoing it)
     */
    public static byte[] key(String secret) {
        if (secret == null || !secret.startsWith(SECRET_PREFIX)) {
            throw new IllegalArgumentException("webhook secret must look like whsec_<base64 of 24 to 64 random bytes>;"
                    + " leave it out to have one generated");
        }
        byte[] key;
        try {
            key = Base64.getDecoder().decode(secret.substring(SECRET_PREFIX.length()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("webhook secret: the text after whsec_ is not valid base64");
        }
        if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
            throw new IllegalArgumentException("webhook secret holds " + key.length + " bytes; it must hold "
                    + MIN_KEY_BYTES + " to " + MAX_KEY_BYTES + " (whsec_ + base64 of that many random bytes)");
        }
        return key;
    }

    /** The {@code webhook-signature} value ({@code v1,<base64>}) of one message. */
    public static String sign(String secret, String id, long timestamp, String body) {
        return sign(key(secret), id, timestamp, body.getBytes(StandardCharsets.UTF_8));
    }

    static String sign(byte[] key, String id, long timestamp, byte[] body) {
        return "v1," + Base64.getEncoder().encodeToString(hmac(key, id, Long.toString(timestamp), body));
    }

    /** As {@link #verify(String, Map, byte[], Duration, Instant)} for a UTF-8 body, now. */
    public static void verify(String secret, Map<String, List<String>> headers, String body, Duration tolerance)
            throws WebhookVerificationException {
        verify(secret, headers, body.getBytes(StandardCharsets.UTF_8), tolerance, Instant.now());
    }

    /** As {@link #verify(String, Map, byte[], Duration, Instant)}, now. */
    public static void verify(String secret, Map<String, List<String>> headers, byte[] body, Duration tolerance)
            throws WebhookVerificationException {
        verify(secret, headers, body, tolerance, Instant.now());
    }

    /**
     * Checks that a request was signed with {@code secret}.
     *
     * @param secret    the job's {@code whsec_...} secret (a bare base64 key is accepted too)
     * @param headers   the request headers; names are matched ignoring case
     * @param body      the raw request body, byte for byte as received
     * @param tolerance how far {@code webhook-timestamp} may be from {@code now}, either way
     *                  ({@link #DEFAULT_TOLERANCE} is 5 minutes)
     * @throws WebhookVerificationException when a header is missing or malformed, the timestamp
     *                                      is too old or too far ahead, or no {@code v1} signature matches
     */
    public static void verify(String secret, Map<String, List<String>> headers, byte[] body, Duration tolerance,
                              Instant now) throws WebhookVerificationException {
        String id = header(headers, ID_HEADER);
        String timestamp = header(headers, TIMESTAMP_HEADER);
        String signatures = header(headers, SIGNATURE_HEADER);
        long seconds;
        try {
            seconds = Long.parseLong(timestamp.strip());
        } catch (NumberFormatException e) {
            throw new WebhookVerificationException(TIMESTAMP_HEADER + " is not a whole number of Unix seconds");
        }
        long skew = Math.abs(now.getEpochSecond() - seconds);
        if (skew > tolerance.toSeconds()) {
            throw new WebhookVerificationException(TIMESTAMP_HEADER + " is " + skew + " s away from now, more than the "
                    + tolerance.toSeconds() + " s tolerance (replayed or delayed request, or a wrong clock)");
        }
        byte[] expected = hmac(verificationKey(secret), id, timestamp.strip(), body);
        boolean match = false;
        for (String entry : signatures.strip().split(" +")) {
            int comma = entry.indexOf(',');
            if (comma < 0 || !entry.substring(0, comma).equals("v1")) continue;
            byte[] candidate;
            try {
                candidate = Base64.getDecoder().decode(entry.substring(comma + 1));
            } catch (IllegalArgumentException e) {
                continue;
            }
            // constant-time compare; keep going so the time taken does not depend on which one matched
            match |= MessageDigest.isEqual(expected, candidate);
        }
        if (!match) {
            throw new WebhookVerificationException("no v1 signature in " + SIGNATURE_HEADER
                    + " matches the body; check the secret and that the raw body is verified unchanged");
        }
    }

    private static byte[] verificationKey(String secret) throws WebhookVerificationException {
        if (secret == null || secret.isBlank()) throw new WebhookVerificationException("no webhook secret to verify with");
        String base64 = secret.startsWith(SECRET_PREFIX) ? secret.substring(SECRET_PREFIX.length()) : secret;
        try {
            byte[] key = Base64.getDecoder().decode(base64);
            if (key.length == 0) throw new IllegalArgumentException();
            return key;
        } catch (IllegalArgumentException e) {
            throw new WebhookVerificationException("webhook secret is not whsec_ followed by base64");
        }
    }

    private static String header(Map<String, List<String>> headers, String name) throws WebhookVerificationException {
        for (Map.Entry<String, List<String>> e : headers.entrySet()) {
            if (e.getKey() != null && e.getKey().equalsIgnoreCase(name) && e.getValue() != null && !e.getValue().isEmpty()) {
                String value = e.getValue().getFirst();
                if (value != null && !value.isBlank()) return value;
            }
        }
        throw new WebhookVerificationException("missing header " + name);
    }

    private static byte[] hmac(byte[] key, String id, String timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update((id + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
            return mac.doFinal(body);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
        }
    }
}
