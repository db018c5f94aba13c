package dev.kaze.models;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A local stand-in for the Hugging Face hub, its CDN and Civitai, answering as they do: the tree
 * listing with LFS oid and size (paged with Link headers), resolve URLs that redirect (302 to the
 * CDN for LFS files, a relative 307 for git files), Range on the CDN, tokens for gated repos, and
 * faults on demand (a cut connection, a corrupted byte, Range ignored, a slow body).
 */
public final class FakeHub implements AutoCloseable {
    public static final String HF_TOKEN = "hf_secret";
    public static final String CIVITAI_TOKEN = "civitai_secret";

    record Seen(String path, String range, String authorization) {}

    private final HttpServer hub;
    private final HttpServer cdn;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final Map<String, Map<String, byte[]>> repos = new ConcurrentHashMap<>();
    private final Set<String> gated = ConcurrentHashMap.newKeySet();
    private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
    private final Map<Long, String> civitaiModels = new ConcurrentHashMap<>();
    final List<Seen> hubRequests = new CopyOnWriteArrayList<>();
    final List<Seen> cdnRequests = new CopyOnWriteArrayList<>();
    final AtomicInteger cutsLeft = new AtomicInteger();
    volatile int cutAfterBytes;
    final AtomicInteger corruptionsLeft = new AtomicInteger();
    volatile boolean ignoreRange;
    volatile int pageSize = 1000;
    public volatile long chunkDelayMillis;

    public FakeHub() throws IOException {
        hub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        cdn = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        hub.createContext("/", this::hub);
        cdn.createContext("/", this::cdn);
        hub.setExecutor(threads);
        cdn.setExecutor(threads);
        hub.start();
        cdn.start();
    }

    public URI endpoint() { return URI.create("http://127.0.0.1:" + hub.getAddress().getPort()); }

    String cdnAuthority() { return "127.0.0.1:" + cdn.getAddress().getPort(); }

    public void put(String repo, String path, byte[] bytes) {
        repos.computeIfAbsent(repo, r -> new ConcurrentHashMap<>()).put(path, bytes);
        blobs.put(sha256(bytes), bytes);
    }

    public void gate(String repo) { gated.add(repo); }

    /** A Civitai model whose newest version has one file served by the CDN. */
    public void civitaiModel(long id, long versionId, String fileName, byte[] bytes) {
        blobs.put(sha256(bytes), bytes);
        blobs.put("civitai-" + versionId, bytes);
        civitaiModels.put(id, """
                {"id": %d, "name": "Studio Ghibli", "modelVersions": [
                  {"id": %d, "name": "v1", "files": [
                    {"name": "%s.json", "sizeKB": 0.1, "type": "Training Data", "hashes": {}, "downloadUrl": "%s/api/download/models/0"},
                    {"name": "%s", "sizeKB": %s, "type": "Model", "primary": true,
                     "hashes": {"SHA256": "%s", "AutoV2": "ABCDEF0123"}, "downloadUrl": "%s/api/download/models/%d"}]},
                  {"id": 1, "name": "old", "files": []}]}
                """.formatted(id, versionId, fileName, endpoint(), fileName, bytes.length / 1024.0,
                sha256(bytes).toUpperCase(), endpoint(), versionId));
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String gitSha1(byte[] bytes) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + bytes.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(md.digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Deterministic bytes of a given length. */
    public static byte[] bytes(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte) (i * 31 + seed * 7 + (i >> 8));
        return b;
    }

    static boolean lfs(String path) { return !path.endsWith(".json"); }

    private void hub(HttpExchange ex) throws IOException {
        try (ex) {
            String raw = ex.getRequestURI().getRawPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            hubRequests.add(new Seen(raw, ex.getRequestHeaders().getFirst("Range"), auth));
            List<String> seg = new ArrayList<>();
            for (String s : raw.substring(1).split("/")) seg.add(URLDecoder.decode(s, StandardCharsets.UTF_8));
            if (seg.size() >= 4 && seg.get(0).equals("api") && seg.get(1).equals("v1") && seg.get(2).equals("models")) {
                String json = civitaiModels.get(Long.parseLong(seg.get(3)));
                if (json == null) answer(ex, 404, "{\"error\":\"No model with id " + seg.get(3) + "\"}");
                else answer(ex, 200, json);
                return;
            }
            if (seg.size() == 4 && seg.get(0).equals("api") && seg.get(1).equals("download")) {
                if (!("Bearer " + CIVITAI_TOKEN).equals(auth)) {
                    answer(ex, 401, "{\"error\":\"Unauthorized\"}");
                    return;
                }
                redirect(ex, 302, "http://" + cdnAuthority() + "/blobs/civitai-" + seg.get(3));
                return;
            }
            if (seg.size() >= 6 && seg.get(0).equals("api") && seg.get(1).equals("models") && seg.get(4).equals("tree")) {
                String repo = seg.get(2) + "/" + seg.get(3);
                if (refuse(ex, repo, auth)) return;
                tree(ex, repo);
                return;
            }
            if (seg.size() >= 5 && (seg.get(2).equals("resolve") || seg.get(2).equals("raw"))) {
                String repo = seg.get(0) + "/" + seg.get(1);
                if (refuse(ex, repo, auth)) return;
                if (!seg.get(3).equals("main")) {
                    error(ex, 404, "RevisionNotFound", "Invalid rev id: " + seg.get(3));
                    return;
                }
                String path = String.join("/", seg.subList(4, seg.size()));
                byte[] bytes = repos.get(repo).get(path);
                if (bytes == null) error(ex, 404, "EntryNotFound", "Entry not found");
                else if (seg.get(2).equals("raw")) body(ex, bytes, null);
                else if (lfs(path)) redirect(ex, 302, "http://" + cdnAuthority() + "/blobs/" + sha256(bytes));
                else redirect(ex, 307, "/" + repo + "/raw/main/" + String.join("/", raw.substring(1).split("/", 5)[4]));
                return;
            }
            answer(ex, 404, "not found");
        }
    }

    private boolean refuse(HttpExchange ex, String repo, String auth) throws IOException {
        if (!repos.containsKey(repo)) {
            error(ex, 404, "RepoNotFound", "Repository not found");
            return true;
        }
        if (gated.contains(repo) && !("Bearer " + HF_TOKEN).equals(auth)) {
            error(ex, 401, "GatedRepo", "Access to model " + repo + " is restricted. You must have access to it and be authenticated.");
            return true;
        }
        return false;
    }

    private void tree(HttpExchange ex, String repo) throws IOException {
        String query = ex.getRequestURI().getRawQuery();
        int from = query != null && query.contains("cursor=") ? Integer.parseInt(query.replaceAll(".*cursor=(\\d+).*", "$1")) : 0;
        List<String> entries = new ArrayList<>();
        entries.add("{\"type\":\"directory\",\"oid\":\"" + "0".repeat(40) + "\",\"size\":0,\"path\":\"google\"}");
        repos.get(repo).entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            byte[] b = e.getValue();
            String lfs = lfs(e.getKey()) ? ",\"lfs\":{\"oid\":\"" + sha256(b) + "\",\"size\":" + b.length + ",\"pointerSize\":134}" : "";
            entries.add("{\"type\":\"file\",\"oid\":\"" + gitSha1(b) + "\",\"size\":" + b.length + ",\"path\":\"" + e.getKey() + "\"" + lfs + "}");
        });
        int to = Math.min(entries.size(), from + pageSize);
        if (to < entries.size())
            ex.getResponseHeaders().add("Link", "<" + endpoint() + ex.getRequestURI().getRawPath() + "?recursive=true&cursor=" + to + ">; rel=\"next\"");
        answer(ex, 200, "[" + String.join(",", entries.subList(from, to)) + "]");
    }

    private void cdn(HttpExchange ex) throws IOException {
        try (ex) {
            String range = ex.getRequestHeaders().getFirst("Range");
            cdnRequests.add(new Seen(ex.getRequestURI().getPath(), range, ex.getRequestHeaders().getFirst("Authorization")));
            byte[] bytes = blobs.get(ex.getRequestURI().getPath().substring("/blobs/".length()));
            if (bytes == null) {
                answer(ex, 404, "no such blob");
                return;
            }
            body(ex, bytes, ignoreRange ? null : range);
        }
    }

    private void body(HttpExchange ex, byte[] bytes, String range) throws IOException {
        int start = 0;
        int status = 200;
        ex.getResponseHeaders().add("Content-Type", "application/octet-stream");
        if (range != null) {
            start = Integer.parseInt(range.replaceAll("bytes=(\\d+)-.*", "$1"));
            if (start >= bytes.length) {
                ex.getResponseHeaders().add("Content-Range", "bytes */" + bytes.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
            status = 206;
            ex.getResponseHeaders().add("Content-Range", "bytes " + start + "-" + (bytes.length - 1) + "/" + bytes.length);
        }
        byte[] out = Arrays.copyOfRange(bytes, start, bytes.length);
        if (corruptionsLeft.getAndDecrement() > 0) out[out.length / 2] ^= 0x5A;
        ex.sendResponseHeaders(status, out.length);
        OutputStream os = ex.getResponseBody();
        if (cutsLeft.getAndDecrement() > 0) {
            os.write(out, 0, Math.min(cutAfterBytes, out.length));
            os.flush();
            throw new IOException("cut on purpose");               // the server drops the connection mid-body
        }
        int chunk = chunkDelayMillis > 0 ? Math.max(1, out.length / 8) : out.length;
        for (int i = 0; i < out.length; i += chunk) {
            os.write(out, i, Math.min(chunk, out.length - i));
            os.flush();
            pause();
        }
    }

    private void pause() {
        if (chunkDelayMillis <= 0) return;
        try {
            Thread.sleep(chunkDelayMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void redirect(HttpExchange ex, int status, String location) throws IOException {
        ex.getResponseHeaders().add("Location", location);
        ex.sendResponseHeaders(status, -1);
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        ex.getResponseHeaders().add("X-Error-Code", code);
        answer(ex, status, "{\"error\":\"" + message + "\"}");
    }

    private static void answer(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
        threads.shutdownNow();
    }
}
