package dev.kaze.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The API keys the server accepts, as SHA-256 hashes, and whether a request without a key is let in
 * (as the owner {@code anonymous}). With anonymous access and no keys at all (the local quickstart),
 * a request with any key is let in as well: OpenAI's SDKs always send one. keyHint, when set, tells a
 * caller without a key where to find one (the first-run admin key's file).
 */
public record ApiKeys(boolean anonymous, List<Key> keys, String keyHint) {
    /** One key: its id (the owner of its jobs), the SHA-256 of the key, and whether it may administer (pull models). */
    public record Key(String id, byte[] sha256, boolean admin) {
        public Key(String id, byte[] sha256) { this(id, sha256, false); }

        /** The same key, allowed to administer or not. */
        public Key admin(boolean admin) { return new Key(id, sha256, admin); }

        /**
         * A configured key: its id and either the hex SHA-256 of the key (preferred) or the key itself;
         * {@code property} names the setting for the messages.
         */
        public static Key of(String id, String sha256Hex, String key, String property) {
            if (id == null || id.isBlank()) throw new IllegalArgumentException(property + ": every key needs an id");
            byte[] hash;
            if (sha256Hex != null && !sha256Hex.isBlank()) hash = HexFormat.of().parseHex(sha256Hex.strip().toLowerCase());
            else if (key != null && !key.isBlank()) hash = ApiKeys.sha256(key);
            else throw new IllegalArgumentException(property + ": key '" + id + "' needs sha256 or key");
            if (hash.length != 32) throw new IllegalArgumentException(property + ": sha256 of '" + id + "' must be 64 hex digits");
            return new Key(id, hash);
        }
    }

    public ApiKeys {
        keys = List.copyOf(keys);
    }

    public ApiKeys(boolean anonymous, List<Key> keys) { this(anonymous, keys, null); }

    /** The key a token is, comparing against every key in constant time; null when none matches. */
    Key find(String token) {
        byte[] hash = sha256(token);
        Key found = null;
        for (Key k : keys) if (MessageDigest.isEqual(hash, k.sha256())) found = k;
        return found;
    }

    /** The id of the key, or null when none matches. */
    String owner(String token) {
        Key k = find(token);
        return k == null ? null : k.id();
    }

    /** Any key is let in as anonymous: anonymous access with no keys configured. */
    boolean open() { return anonymous && keys.isEmpty(); }

    /** Who may administer: everyone when no key is configured, else the keys marked admin. */
    boolean admin(Key key) { return keys.isEmpty() || key != null && key.admin(); }

    /** The answer to a request without a key. */
    String missingKeyDetail() {
        return keyHint != null ? "no key was sent; " + keyHint : "an API key is required: send 'Authorization: Bearer <key>'";
    }

    /** The SHA-256 of a key, as configured keys are kept. */
    public static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
