package dev.kaze.jobs.store;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;

/** A list position: createdAt and id of the last job of the previous page, encoded as URL-safe base64. */
record Cursor(Instant createdAt, String id) {
    String encode() {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((createdAt + "|" + id).getBytes(StandardCharsets.UTF_8));
    }

    static Cursor decode(String cursor) {
        try {
            String s = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
            int bar = s.indexOf('|');
            if (bar < 0) throw new IllegalArgumentException("no separator");
            return new Cursor(Instant.parse(s.substring(0, bar)), s.substring(bar + 1));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cursor '" + cursor + "' is not one this server issued;"
                    + " pass the nextCursor of the previous page, or none for the first page", e);
        }
    }
}
