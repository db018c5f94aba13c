package dev.kaze.api;

import dev.kaze.storage.S3TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Videos on S3 through the real server with the preview model, its files in an s3proxy bucket reached through a relay
 * that records what Kaze asks the bucket: the video, thumbnail, preview and manifest are objects in the bucket and
 * nothing under the data directory; downloads give the objects' bytes with ETag/304, byte ranges served by ranged
 * GETs, several ranges, a suffix range, a 416 problem; DELETE removes the objects.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:video-s3;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=" + VideoDownloadS3Test.DATA,
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=alice-key"
})
class VideoDownloadS3Test {
    static final String DATA = "target/test-data/video-s3";
    static final String PREFIX = "install-v";
    static final String SMALL = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":3,\"seed\":5}";

    static final S3TestServer server;
    static final Relay relay;

    static {   // before the context, which reads the bucket's address
        try {
            server = S3TestServer.start("kaze-videos");
            relay = new Relay(URI.create(server.endpoint()).getPort());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll static void stop() throws Exception {
        relay.close();
        server.close();
    }

    @DynamicPropertySource
    static void bucket(DynamicPropertyRegistry registry) {
        for (String p : server.properties(PREFIX)) {
            String name = p.substring(0, p.indexOf('=')), value = p.substring(p.indexOf('=') + 1);
            registry.add(name, () -> name.equals("kaze.storage.s3.endpoint") ? relay.endpoint() : value);
        }
    }

    @LocalServerPort int port;

    ApiClient alice() { return new ApiClient(port, "alice-key"); }

    byte[] object(String id, String name) { return server.read(PREFIX + "/jobs/" + id + "/" + name); }

    /** The names of the job's objects. */
    List<String> objects(String id) { return server.keys(PREFIX + "/jobs/" + id + "/"); }

    HttpResponse<byte[]> content(String id, String query, String... headers) {
        HttpRequest.Builder r = alice().request("/v1/videos/" + id + "/content" + query);
        for (int i = 0; i < headers.length; i += 2) r.header(headers[i], headers[i + 1]);
        return alice().sendBytes(r.GET().build());
    }

    @Test
    void aVideosFilesLiveInTheBucketAndDownloadsReadThem() throws Exception {
        HttpResponse<String> created = alice().post("/v1/videos", SMALL);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        String id = ApiClient.json(created).get("id").asString();
        assertThat(alice().awaitTerminal(id, Duration.ofSeconds(120)).get("status").asString()).isEqualTo("completed");

        assertThat(objects(id)).containsExactly("preview.gif", "request.json", "thumbnail.jpg", "video.mp4");
        assertThat(Path.of(DATA, "jobs", id)).as("nothing of the job stays on local disk").doesNotExist();
        JsonNode manifest = ApiClient.JSON.readTree(new String(object(id, "request.json"), StandardCharsets.UTF_8));
        assertThat(manifest.at("/seed").asLong()).isEqualTo(5);
        assertThat(manifest.get("software_version").asString()).isNotEmpty();

        byte[] mp4 = object(id, "video.mp4");
        assertThat(mp4.length).isGreaterThan(200);
        HttpResponse<byte[]> whole = content(id, "");
        assertThat(whole.statusCode()).isEqualTo(200);
        assertThat(whole.body()).isEqualTo(mp4);
        assertThat(whole.headers().firstValue("Content-Type")).hasValue("video/mp4");
        assertThat(whole.headers().firstValue("Content-Length")).hasValue(String.valueOf(mp4.length));
        assertThat(whole.headers().firstValue("Accept-Ranges")).hasValue("bytes");
        assertThat(whole.headers().firstValue("Cache-Control").orElseThrow()).contains("private").contains("max-age=3600");
        assertThat(whole.headers().firstValue("Content-Disposition")).hasValue("inline; filename=\"" + id + ".mp4\"");
        String etag = whole.headers().firstValue("ETag").orElseThrow();
        assertThat(etag).startsWith("\"" + id + "-video-" + mp4.length + "-").endsWith("\"");

        HttpResponse<byte[]> notModified = content(id, "", "If-None-Match", etag);
        assertThat(notModified.statusCode()).isEqualTo(304);
        assertThat(notModified.body()).isEmpty();
        assertThat(content(id, "", "If-None-Match", "\"other\"").statusCode()).isEqualTo(200);

        relay.clear();
        HttpResponse<byte[]> range = content(id, "", "Range", "bytes=10-99");
        assertThat(range.statusCode()).isEqualTo(206);
        assertThat(range.headers().firstValue("Content-Range")).hasValue("bytes 10-99/" + mp4.length);
        assertThat(range.headers().firstValue("Content-Length")).hasValue("90");
        assertThat(range.body()).isEqualTo(Arrays.copyOfRange(mp4, 10, 100));
        List<String> videoGets = relay.requests().stream().filter(r -> r.startsWith("GET ") && r.contains("/jobs/" + id + "/video.mp4")).toList();
        assertThat(videoGets).as("the range is one ranged GET of the object, not a read from byte 0").hasSize(1);
        assertThat(videoGets.getFirst()).containsIgnoringCase("range: bytes=10-99");

        HttpResponse<byte[]> suffix = content(id, "", "Range", "bytes=-100");
        assertThat(suffix.statusCode()).isEqualTo(206);
        assertThat(suffix.headers().firstValue("Content-Range")).hasValue("bytes " + (mp4.length - 100) + "-" + (mp4.length - 1) + "/" + mp4.length);
        assertThat(suffix.body()).isEqualTo(Arrays.copyOfRange(mp4, mp4.length - 100, mp4.length));

        HttpResponse<byte[]> open = content(id, "", "Range", "bytes=" + (mp4.length - 5) + "-");
        assertThat(open.statusCode()).isEqualTo(206);
        assertThat(open.body()).isEqualTo(Arrays.copyOfRange(mp4, mp4.length - 5, mp4.length));

        HttpResponse<byte[]> two = content(id, "", "Range", "bytes=0-9,50-69");
        assertThat(two.statusCode()).isEqualTo(206);
        String multipart = two.headers().firstValue("Content-Type").orElseThrow();
        assertThat(multipart).startsWith("multipart/byteranges");
        assertThat(two.headers().firstValue("Content-Length")).hasValue(String.valueOf(two.body().length));
        String boundary = multipart.substring(multipart.indexOf("boundary=") + "boundary=".length());
        assertThat(parts(two.body(), boundary)).containsExactly(
                new Part("bytes 0-9/" + mp4.length, Arrays.copyOfRange(mp4, 0, 10)),
                new Part("bytes 50-69/" + mp4.length, Arrays.copyOfRange(mp4, 50, 70)));

        HttpResponse<byte[]> unsatisfiable = content(id, "", "Range", "bytes=" + mp4.length + "-");
        assertThat(unsatisfiable.statusCode()).isEqualTo(416);
        assertThat(unsatisfiable.headers().firstValue("Content-Range")).hasValue("bytes */" + mp4.length);
        assertThat(unsatisfiable.headers().firstValue("Content-Type").orElseThrow()).startsWith("application/problem+json");
        JsonNode problem = ApiClient.JSON.readTree(unsatisfiable.body());
        assertThat(problem.get("type").asString()).endsWith("/range-not-satisfiable");
        assertThat(problem.get("detail").asString()).contains(String.valueOf(mp4.length));

        HttpResponse<Void> head = ApiClient.HTTP.send(alice().request("/v1/videos/" + id + "/content")
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.headers().firstValue("Content-Length")).hasValue(String.valueOf(mp4.length));
        assertThat(head.headers().firstValue("ETag")).hasValue(etag);

        HttpResponse<byte[]> thumb = content(id, "?variant=thumbnail");
        assertThat(thumb.statusCode()).isEqualTo(200);
        assertThat(thumb.headers().firstValue("Content-Type")).hasValue("image/jpeg");
        assertThat(thumb.body()).isEqualTo(object(id, "thumbnail.jpg"));
        HttpResponse<byte[]> preview = content(id, "?variant=preview");
        assertThat(preview.statusCode()).isEqualTo(200);
        assertThat(preview.headers().firstValue("Content-Type")).hasValue("image/gif");
        assertThat(preview.body()).isEqualTo(object(id, "preview.gif"));

        assertThat(alice().send(alice().request("/v1/videos/" + id).DELETE().build()).statusCode()).isEqualTo(200);
        assertThat(objects(id)).as("a deleted video's objects").isEmpty();
        assertThat(content(id, "").statusCode()).isEqualTo(404);
    }

    @Test
    void aVideoWhoseObjectIsGoneAnswers404AndOneWithoutPreviewsHasNone() throws Exception {
        String id = ApiClient.json(alice().post("/v1/videos", SMALL.replace("}", ",\"previews\":false}"))).get("id").asString();
        assertThat(alice().awaitTerminal(id, Duration.ofSeconds(120)).get("status").asString()).isEqualTo("completed");
        assertThat(objects(id)).noneMatch(k -> k.endsWith("preview.gif"));
        HttpResponse<byte[]> none = content(id, "?variant=preview");
        assertThat(none.statusCode()).isEqualTo(404);
        assertThat(new String(none.body(), StandardCharsets.UTF_8)).contains("no preview yet");

        server.delete(PREFIX + "/jobs/" + id + "/video.mp4");
        HttpResponse<byte[]> gone = content(id, "");
        assertThat(gone.statusCode()).isEqualTo(404);
        assertThat(new String(gone.body(), StandardCharsets.UTF_8)).contains("is gone");
    }

    record Part(String contentRange, byte[] bytes) {
        @Override public boolean equals(Object o) {
            return o instanceof Part p && p.contentRange.equals(contentRange) && Arrays.equals(p.bytes, bytes);
        }

        @Override public int hashCode() { return contentRange.hashCode() * 31 + Arrays.hashCode(bytes); }

        @Override public String toString() { return contentRange + " " + Arrays.toString(bytes); }
    }

    /** The parts of a multipart/byteranges body (ISO-8859-1 keeps every byte one char). */
    static List<Part> parts(byte[] body, String boundary) {
        String text = new String(body, StandardCharsets.ISO_8859_1);
        assertThat(text).endsWith("--" + boundary + "--");
        Matcher m = Pattern.compile("--" + Pattern.quote(boundary) + "\r\n((?:[^\r\n]+\r\n)+)\r\n").matcher(text);
        List<Part> parts = new ArrayList<>();
        while (m.find()) {
            String range = m.group(1).lines().filter(l -> l.regionMatches(true, 0, "Content-Range:", 0, 14))
                    .map(l -> l.substring(14).strip()).findFirst().orElseThrow();
            String[] r = range.substring(6, range.indexOf('/')).split("-");
            int from = m.end(), length = Integer.parseInt(r[1]) - Integer.parseInt(r[0]) + 1;
            parts.add(new Part(range, text.substring(from, from + length).getBytes(StandardCharsets.ISO_8859_1)));
        }
        return parts;
    }

    /**
     * A TCP relay to the S3 server that keeps the head (request line and headers) of every HTTP request sent
     * through it, so a test sees what Kaze asked the bucket for.
     */
    static final class Relay implements AutoCloseable {
        private final ServerSocket socket;
        private final int target;
        private final List<String> heads = new CopyOnWriteArrayList<>();

        Relay(int target) throws IOException {
            this.target = target;
            this.socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(this::accept);
        }

        String endpoint() { return "http://127.0.0.1:" + socket.getLocalPort(); }

        List<String> requests() { return List.copyOf(heads); }

        void clear() { heads.clear(); }

        private void accept() {
            while (!socket.isClosed()) {
                try {
                    Socket client = socket.accept();
                    Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
                    Thread.ofVirtual().start(() -> pump(client, upstream, true));
                    Thread.ofVirtual().start(() -> pump(upstream, client, false));
                } catch (IOException e) {
                    if (!socket.isClosed()) throw new UncheckedIOException(e);
                }
            }
        }

        /** Copies bytes; on the request side, records each request head (a body never starts with a method and a path). */
        private void pump(Socket from, Socket to, boolean requests) {
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                ByteArrayOutputStream seen = new ByteArrayOutputStream();
                byte[] buf = new byte[64 * 1024];
                for (int n; (n = in.read(buf)) > 0; ) {
                    out.write(buf, 0, n);
                    out.flush();
                    if (requests) {
                        seen.write(buf, 0, n);
                        String text = seen.toString(StandardCharsets.ISO_8859_1);
                        Matcher m = Pattern.compile("(?m)^(GET|PUT|HEAD|DELETE|POST) [^\r\n]* HTTP/1\\.1\r\n(?:[^\r\n]+\r\n)*\r\n").matcher(text);
                        int end = 0;
                        while (m.find()) {
                            heads.add(m.group());
                            end = m.end();
                        }
                        if (end > 0 || seen.size() > 1 << 20) {
                            String rest = end > 0 ? text.substring(end) : "";
                            seen.reset();
                            seen.write(rest.getBytes(StandardCharsets.ISO_8859_1));
                        }
                    }
                }
            } catch (IOException e) {
                // the other side closed
            } finally {
                try {
                    from.close();
                    to.close();
                } catch (IOException ignored) {
                    // closed already
                }
            }
        }

        @Override public void close() throws IOException { socket.close(); }
    }
}
