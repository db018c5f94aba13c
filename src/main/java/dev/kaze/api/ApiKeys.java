package dev.kaze.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The API keys the server accepts, as SHA-256 hashes, and whether a request without a key is let in
 * (as the owner {@code anonymous}).
 */
public record ApiKeys(boolean anonymous, List<Key> keys) {
    /** One key: its id (the owner of its jobs) and the SHA-256 of the key. */
    public record Key(String id, byte[] sha256) {
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

    /** The id of the key, comparing against every key in constant time; null when none matches. */
    String owner(String token) {
        byte[] hash = sha256(token);
        String found = null;
        for (Key k : keys) if (MessageDigest.isEqual(hash, k.sha256())) found = k.id();
        return found;
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
