package dev.kaze.models;

import java.net.URI;

/**
 * Who may be sent a credential: the Authorization value goes only to URLs on {@code authority}
 * (host and port), never to a CDN a download is redirected to. deniedHint tells the user what
 * to do when that host answers 401 or 403.
 */
public record Access(String authority, String authorization, String deniedHint) {
    public static final Access NONE = new Access(null, null, "the server refused the download; check the URL");

    public boolean authorizes(URI uri) {
        return authorization != null && authority != null && authority.equalsIgnoreCase(uri.getRawAuthority());
    }
}
