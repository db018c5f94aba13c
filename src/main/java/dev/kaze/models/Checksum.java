package dev.kaze.models;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The expected digest of a file: the SHA-256 that Hugging Face keeps for LFS files and Civitai
 * publishes, or the git blob SHA-1 that the hub gives for small files kept in git itself.
 */
public record Checksum(Algorithm algorithm, String hex) {
    public enum Algorithm {
        SHA256("sha256"), GIT_BLOB_SHA1("git-sha1");

        private final String label;

        Algorithm(String label) { this.label = label; }

        public String label() { return label; }

        public static Algorithm of(String label) {
            for (Algorithm a : values()) if (a.label.equals(label)) return a;
            throw new IllegalArgumentException("unknown checksum algorithm " + label + " (sha256 or git-sha1)");
        }
    }

    public Checksum {
        hex = hex.toLowerCase(Locale.ROOT);
        int length = algorithm == Algorithm.SHA256 ? 64 : 40;
        if (hex.length() != length || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0))
            throw new IllegalArgumentException(algorithm.label() + " must be " + length + " hexadecimal digits, got '" + hex + "'");
    }

    public static Checksum sha256(String hex) { return new Checksum(Algorithm.SHA256, hex); }

    /** A digest ready to take the file's bytes; for a git blob it has already taken the blob header. */
    public MessageDigest start(long size) {
        try {
            if (algorithm == Algorithm.SHA256) return MessageDigest.getInstance("SHA-256");
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
            return md;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + algorithm.label(), e);
        }
    }

    /** A SHA-256 digest for files without a published checksum (recorded, not verified). */
    public static MessageDigest sha256Digest() { return sha256("0".repeat(64)).start(0); }

    public static String hex(MessageDigest finished) { return HexFormat.of().formatHex(finished.digest()); }

    @Override public String toString() { return algorithm.label() + ":" + hex; }
}
