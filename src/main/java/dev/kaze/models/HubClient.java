package dev.kaze.models;

import dev.kaze.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;

/**
 * The Hugging Face hub (or a mirror at HF_ENDPOINT): lists a repository's files with their sizes
 * and hashes ({@code GET /api/models/{repo}/tree/{revision}?recursive=true}, following the
 * {@code Link: rel="next"} pages) and names their download URLs ({@code /{repo}/resolve/{revision}/{path}}).
 */
public final class HubClient {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    private static final Pattern NEXT = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");

    /** One file of a repository listing; lfsSha256 is null for small files kept in git. */
    public record Entry(String path, long size, String gitOid, String lfsSha256) {}

    private final URI endpoint;
    private final String token;
    private final HttpGet http;
    private final Map<String, List<Entry>> trees = new ConcurrentHashMap<>();

    public HubClient(URI endpoint, String token, HttpGet http) {
        String e = endpoint.toString();
        this.endpoint = URI.create(e.endsWith("/") ? e.substring(0, e.length() - 1) : e);
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.http = http;
    }

    /** HF_ENDPOINT (default https://huggingface.co) and HF_TOKEN from the environment. */
    public static HubClient fromEnv(Map<String, String> env, HttpGet http) {
        String endpoint = env.getOrDefault("HF_ENDPOINT", "");
        return new HubClient(URI.create(endpoint.isBlank() ? DEFAULT_ENDPOINT : endpoint.strip()), env.get("HF_TOKEN"), http);
    }

    public URI endpoint() { return endpoint; }

    Access access(String repo) {
        String page = endpoint + "/" + repo;
        String hint = token == null
                ? "the repository may be gated or private: accept the licence at " + page + " and set HF_TOKEN to a token with read access"
                : "HF_TOKEN is set but was refused: accept the licence at " + page + " with the account that owns the token, and check that the token is valid";
        return new Access(endpoint.getRawAuthority(), token == null ? null : "Bearer " + token, hint);
    }

    /** Every file of repo at revision (cached per client). */
    public List<Entry> tree(String repo, String revision) {
        return trees.computeIfAbsent(repo + "@" + revision, key -> {
            try {
                return list(repo, revision);
            } catch (IOException e) {
                throw new PullException("listing " + repo + "@" + revision + ": cannot reach " + endpoint + " (" + e
                        + "); check the network connection or HF_ENDPOINT", e);
            }
        });
    }

    /** The file at path, or empty when the repository does not have it. */
    public Optional<RemoteFile> find(String repo, String revision, String path) {
        for (Entry e : tree(repo, revision))
            if (e.path().equals(path)) {
                Checksum checksum = e.lfsSha256() != null ? Checksum.sha256(e.lfsSha256())
                        : e.gitOid() != null ? new Checksum(Checksum.Algorithm.GIT_BLOB_SHA1, e.gitOid()) : null;
                return Optional.of(new RemoteFile(repo + "@" + revision + ":" + path, resolveUri(repo, revision, path),
                        e.size(), true, checksum, access(repo)));
            }
        return Optional.empty();
    }

    public RemoteFile file(String repo, String revision, String path) {
        return find(repo, revision, path).orElseThrow(() -> new PullException(repo + "@" + revision + ":" + path
                + ": the repository " + endpoint + "/" + repo + " has no file " + path + " at revision " + revision
                + "; check the file name and the revision"));
    }

    URI resolveUri(String repo, String revision, String path) {
        StringBuilder b = new StringBuilder(endpoint.toString()).append('/').append(repo).append("/resolve/").append(encode(revision));
        for (String segment : path.split("/")) b.append('/').append(encode(segment));
        return URI.create(b.toString());
    }

    private List<Entry> list(String repo, String revision) throws IOException {
        List<Entry> entries = new ArrayList<>();
        URI page = URI.create(endpoint + "/api/models/" + repo + "/tree/" + encode(revision) + "?recursive=true");
        String what = "listing " + repo + "@" + revision;
        while (page != null) {
            HttpResponse<InputStream> response = http.open(page, access(repo), null);
            String body;
            try (InputStream in = response.body()) {
                if (response.statusCode() != 200) throw HttpGet.refused(response, what, access(repo));
                body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            JsonNode root = Json.MAPPER.readTree(body);
            if (!root.isArray()) throw new PullException(what + ": " + page + " did not answer a JSON list; is HF_ENDPOINT a Hugging Face hub?");
            for (JsonNode n : root) {
                if (!"file".equals(text(n, "type"))) continue;
                JsonNode lfs = n.get("lfs");
                entries.add(new Entry(text(n, "path"), n.get("size").asLong(), text(n, "oid"),
                        lfs != null && lfs.isObject() ? text(lfs, "oid") : null));
            }
            page = response.headers().firstValue("Link").map(link -> {
                Matcher m = NEXT.matcher(link);
                return m.find() ? response.uri().resolve(m.group(1)) : null;
            }).orElse(null);
        }
        return List.copyOf(entries);
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asString();
    }

    private static String encode(String s) { return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20"); }
}
