package dev.kaze.models;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * GET requests that follow redirects themselves (absolute ones to a CDN and relative ones on the
 * same host), sending the Authorization header only to the host the credential belongs to, and
 * turning refusals into messages that say what to do.
 */
public final class HttpGet {
    private static final int MAX_REDIRECTS = 10;
    private final HttpClient client;

    public HttpGet(HttpClient client) { this.client = client; }

    public static HttpGet create() {
        return new HttpGet(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(30)).build());
    }

    /** The final response after redirects (any status); range is a Range header value or null. */
    public HttpResponse<InputStream> open(URI uri, Access access, String range) throws IOException {
        URI current = uri;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder request = HttpRequest.newBuilder(current).GET().timeout(Duration.ofMinutes(2))
                    .header("User-Agent", "kaze-models/1");
            if (access.authorizes(current)) request.header("Authorization", access.authorization());
            if (range != null) request.header("Range", range);
            HttpResponse<InputStream> response;
            try {
                response = client.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while requesting " + current);
            }
            int status = response.statusCode();
            String location = response.headers().firstValue("Location").orElse(null);
            if (status >= 300 && status < 400 && status != 304 && location != null) {
                response.body().close();
                current = current.resolve(location);
                continue;
            }
            return response;
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + uri);
    }

    /** The answer as text, or a PullException for any status but 200. */
    public String text(URI uri, Access access, String what) throws IOException {
        HttpResponse<InputStream> response = open(uri, access, null);
        try (InputStream body = response.body()) {
            if (response.statusCode() != 200) throw refused(response, what, access);
            return new String(body.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** A message for a response that is not the file: 401/403 with the access hint, 404 naming what was asked for. */
    public static PullException refused(HttpResponse<?> response, String what, Access access) {
        int status = response.statusCode();
        String code = response.headers().firstValue("X-Error-Code").orElse("");
        String server = response.uri().getHost();
        if (code.equals("RepoNotFound"))
            return new PullException(what + ": the repository was not found on " + server + " (HTTP " + status
                    + "); check its name, or if it is private set a token: " + access.deniedHint());
        if (code.equals("RevisionNotFound"))
            return new PullException(what + ": the revision was not found on " + server + " (HTTP " + status + "); check the revision name");
        if (status == 401 || status == 403)
            return new PullException(what + ": " + server + " refused access (HTTP " + status + "); " + access.deniedHint());
        if (status == 404)
            return new PullException(what + ": not found on " + server + " (HTTP 404, " + response.uri()
                    + "); check the repository, the file name and the revision");
        if (status == 416)
            return new PullException(what + ": " + server + " rejected the resume range (HTTP 416)");
        return new PullException(what + ": " + server + " answered HTTP " + status + " for " + response.uri()
                + (status == 429 || status >= 500 ? "; the server is busy or failing, try again later" : ""));
    }
}
