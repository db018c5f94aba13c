package dev.kaze.models;

import dev.kaze.json.Json;
import java.io.IOException;
import java.net.URI;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * Civitai's public REST API: {@code GET /api/v1/models/{id}} lists the model's versions, newest
 * first, each with files carrying a downloadUrl, hashes.SHA256 and sizeKB. Downloads send
 * CIVITAI_TOKEN as a bearer token to Civitai's own host only.
 */
public final class CivitaiClient {
    public static final String DEFAULT_ENDPOINT = "https://civitai.com";
    private final URI endpoint;
    private final String token;
    private final HttpGet http;

    public CivitaiClient(URI endpoint, String token, HttpGet http) {
        String e = endpoint.toString();
        this.endpoint = URI.create(e.endsWith("/") ? e.substring(0, e.length() - 1) : e);
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.http = http;
    }

    /** CIVITAI_ENDPOINT (default https://civitai.com) and CIVITAI_TOKEN from the environment. */
    public static CivitaiClient fromEnv(Map<String, String> env, HttpGet http) {
        String endpoint = env.getOrDefault("CIVITAI_ENDPOINT", "");
        return new CivitaiClient(URI.create(endpoint.isBlank() ? DEFAULT_ENDPOINT : endpoint.strip()), env.get("CIVITAI_TOKEN"), http);
    }

    Access access() {
        String hint = token == null
                ? "Civitai needs an API key for this download: create one at https://civitai.com/user/account and set CIVITAI_TOKEN"
                : "CIVITAI_TOKEN is set but was refused: create a new API key at https://civitai.com/user/account";
        return new Access(endpoint.getRawAuthority(), token == null ? null : "Bearer " + token, hint);
    }

    /** Whether a URL is on Civitai's host (so that CIVITAI_TOKEN may be sent to it). */
    boolean hosts(URI uri) { return endpoint.getRawAuthority().equalsIgnoreCase(uri.getRawAuthority()); }

    /** The primary file of the model's newest version. */
    public RemoteFile latest(long modelId) {
        String what = "Civitai model " + modelId;
        JsonNode model;
        try {
            model = Json.MAPPER.readTree(http.text(URI.create(endpoint + "/api/v1/models/" + modelId), access(), what));
        } catch (IOException e) {
            throw new PullException(what + ": cannot reach " + endpoint + " (" + e + "); check the network connection", e);
        }
        JsonNode versions = model.get("modelVersions");
        if (versions == null || !versions.isArray() || versions.isEmpty())
            throw new PullException(what + ": Civitai lists no version of this model; check the model id");
        JsonNode version = versions.get(0);
        JsonNode chosen = null;
        for (JsonNode f : version.path("files")) {
            if (f.path("primary").asBoolean(false)) { chosen = f; break; }
            if (chosen == null && f.path("name").asString("").endsWith(".safetensors")) chosen = f;
        }
        if (chosen == null) throw new PullException(what + ": its newest version has no .safetensors file to download");
        JsonNode url = chosen.get("downloadUrl");
        if (url == null || url.isNull()) throw new PullException(what + ": Civitai gives no downloadUrl for " + chosen.path("name").asString(""));
        JsonNode sha = chosen.path("hashes").get("SHA256");
        long size = chosen.has("sizeKB") ? (long) Math.ceil(chosen.get("sizeKB").asDouble() * 1024) : -1;
        String label = what + " version " + version.path("id").asString("?") + ": " + chosen.path("name").asString("file");
        return new RemoteFile(label, URI.create(url.asString()), size, false,
                sha == null || sha.isNull() ? null : Checksum.sha256(sha.asString()), access());
    }
}
