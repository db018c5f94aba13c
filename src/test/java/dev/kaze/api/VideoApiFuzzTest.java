package dev.kaze.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Malformed and hostile requests against the real server (127.0.0.1, random port, preview model,
 * in-memory H2): every one must get a 4xx RFC 9457 problem detail, never a 5xx, a default error
 * body or a hang; validation problems name the field; and the queue still renders a video afterwards.
 * Seeded and bounded: {@code -Dkaze.fuzz.seed=N} replays a run, {@code -Dkaze.fuzz.random=N} sets how many
 * generated cases follow the fixed catalogue.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:fuzz;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=target/test-data/fuzz",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=fuzzer", "kaze.auth.keys[0].key=fuzz-key",
        "kaze.limits.per-key-queued=4",
        "kaze.limits.read-timeout=1s", "kaze.limits.request-timeout=2s"
})
class VideoApiFuzzTest {
    static final long SEED = Long.getLong("kaze.fuzz.seed", 0x6b617a65L);
    static final int RANDOM_CASES = Integer.getInteger("kaze.fuzz.random", 2600);
    static final String KEY = "fuzz-key";
    static final JsonMapper JSON = JsonMapper.builder().build();
    static final String SMALL = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":2,\"seed\":5}";

    @LocalServerPort int port;

    /** One hostile request and what must come back: a 4xx ({@code status} 0) or that exact status; {@code field}: a prefix of a field the errors must name. */
    record Case(String name, byte[] request, int status, String field) {}

    // ---- building raw requests ----

    static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    /** A request; header lines are raw bytes ("Name: value"), the auth header comes first unless {@code auth} is false. */
    byte[] http(String method, String target, boolean auth, List<byte[]> headers, byte[] body, boolean contentLength) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(bytes(method + " "));
        out.writeBytes(target.getBytes(StandardCharsets.UTF_8));
        out.writeBytes(bytes(" HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n"));
        if (auth) out.writeBytes(bytes("Authorization: Bearer " + KEY + "\r\n"));
        for (byte[] h : headers) {
            out.writeBytes(h);
            out.writeBytes(bytes("\r\n"));
        }
        if (body != null && contentLength) out.writeBytes(bytes("Content-Length: " + body.length + "\r\n"));
        out.writeBytes(bytes("\r\n"));
        if (body != null) out.writeBytes(body);
        return out.toByteArray();
    }

    byte[] get(String target) { return http("GET", target, true, List.of(), null, false); }

    byte[] postJson(String json) { return postJson(bytes(json)); }

    byte[] postJson(byte[] json) { return http("POST", "/v1/videos", true, List.of(bytes("Content-Type: application/json")), json, true); }

    byte[] post(String contentType, byte[] body) {
        return http("POST", "/v1/videos", true, List.of(bytes("Content-Type: " + contentType)), body, true);
    }

    static byte[] multipart(String boundary, String... namesAndValues) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            b.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(namesAndValues[i])
                    .append("\"\r\n\r\n").append(namesAndValues[i + 1]).append("\r\n");
        }
        b.append("--").append(boundary).append("--\r\n");
        return bytes(b.toString());
    }

    static String json(Map<String, String> fields) {
        StringBuilder b = new StringBuilder("{");
        for (var e : fields.entrySet()) {
            if (b.length() > 1) b.append(',');
            b.append('"').append(e.getKey()).append("\":").append(e.getValue());
        }
        return b.append('}').toString();
    }

    static Map<String, String> base() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("prompt", "\"a fuzzed cat\"");
        m.put("size", "\"64x48\"");
        m.put("frames", "9");
        m.put("steps", "2");
        m.put("seed", "7");
        return m;
    }

    static String q(String s) { return '"' + s + '"'; }

    // ---- bad values, per field ----

    static final List<String> NOT_A_STRING = List.of("1", "-1", "0.5", "true", "false", "[]", "[\"a\"]", "{}", "{\"a\":\"b\"}",
            "1e309", "[[[]]]", "{\"$ne\":null}");
    static final List<String> NOT_A_NUMBER = List.of("\"abc\"", "\"\"", "\" \"", "true", "false", "[]", "[1]", "{}", "{\"value\":1}",
            "\"1e309\"", "\"-1e309\"", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "1e309", "-1e309", "\"0x10\"", "\"1_000\"",
            "\"\\u0661\\u0662\"", "\"1 2\"", "\"1\\u0000\"", "\"12abc\"");
    static final List<String> NOT_AN_INTEGER = List.of("1.5", "\"1.5\"", "2.0", "\"2.0\"", "100000000000000000000", "-100000000000000000000",
            "9223372036854775807", "-9223372036854775808", "\"9223372036854775808\"", "1e2", "\"1e2\"", "\"+5\"", "\"0x9\"");
    static final List<String> PATHS = List.of("../x", "..", "/etc/passwd", "%2e%2e", "%2e%2e%2fetc%2fpasswd", "..\\\\..\\\\windows",
            "a\\\\b", "a/b", "a\\u0000b", "C:\\\\x", "~/.ssh/id_rsa", "x.safetensors/../../y", "", " ", ".hidden", "-dash",
            "a..b", "\\u0000", "file:///etc/passwd", "\\u202e", "x".repeat(200));

    /** A field set to {@code value} (null: left out) after removing {@code remove}; contextual ones are bad only next to a base field. */
    record Mutation(String field, String value, List<String> remove, String expectField, boolean contextual) {
        Mutation(String field, String value, List<String> remove, String expectField) { this(field, value, remove, expectField, false); }

        Mutation(String field, String value) { this(field, value, List.of(), field); }
    }

    /** Every way each field can be wrong. */
    static List<Mutation> mutations() {
        List<Mutation> m = new ArrayList<>();
        // strings
        for (String f : List.of("prompt", "negative_prompt", "model", "size", "preset", "sampler"))
            for (String v : NOT_A_STRING) m.add(new Mutation(f, v));
        m.add(new Mutation("prompt", null, List.of("prompt"), "prompt"));
        for (String v : List.of("null", "\"\"", "\"   \"", "\"\\n\\t\"", q("x".repeat(4001)), "\"\\u0000\"", "\"a\\u0000b\"", "\"\\ud800\"",
                "\"x\\udc00y\"", "\"bell\\u0007\"", "\"\\u001b[31mred\"", "\"\\u0085\""))
            m.add(new Mutation("prompt", v));
        for (String v : List.of(q("x".repeat(4001)), "\"\\u0000\"", "\"\\ud83d\"")) m.add(new Mutation("negative_prompt", v));
        for (String v : List.of("\"gpt-4\"", "\"\"", "\"../../model\"", "\"wan2.2\"", q("m".repeat(300)))) m.add(new Mutation("model", v));
        for (String v : List.of("\"64x\"", "\"x48\"", "\"64*48\"", "\"-64x48\"", "\"0x0\"", "\"64x48x2\"", "\"99999x99999\"", "\"64 x 48\"",
                "\"\\uff16\\uff14x48\"", "\"\"", "\"64x48 \"", "\"650x480\"", "\"16x4096\"", q("1".repeat(30) + "x48"), "\"NaNxNaN\""))
            m.add(new Mutation("size", v));
        for (String v : List.of("\"turbo\"", "\"\"", "\"RECIPE\"")) m.add(new Mutation("preset", v));
        for (String v : List.of("\"euler\"", "\"\"", "\"UNIPC\"")) m.add(new Mutation("sampler", v));
        // integers: field, min, max
        Object[][] ints = {{"width", 16, 2048}, {"height", 16, 2048}, {"frames", 1, 201}, {"fps", 1, 60}, {"steps", 1, 100},
                {"seed", 0, 1L << 53}, {"priority", -10, 10}};
        for (Object[] i : ints) {
            String f = (String) i[0];
            long min = ((Number) i[1]).longValue(), max = ((Number) i[2]).longValue();
            List<String> remove = f.equals("width") || f.equals("height") ? List.of("size") : List.of();
            List<String> bad = new ArrayList<>(NOT_A_NUMBER);
            bad.addAll(NOT_AN_INTEGER);
            bad.addAll(List.of(Long.toString(min - 1), Long.toString(max + 1), q(Long.toString(min - 1)), q(Long.toString(max + 1)), "-2147483649",
                    "4294967297", "2147483648", "-2147483648"));
            for (String v : bad) {
                try {   // a number (or numeric string) inside this field's range is not a bad value
                    long n = Long.parseLong(v.replace("\"", ""));
                    if (n >= min && n <= max) continue;
                } catch (NumberFormatException ignored) {
                    // not an integer at all: bad
                }
                m.add(new Mutation(f, v, remove, f));
            }
        }
        for (String v : List.of("10", "2", "200", "\"10\"", "0", "4")) m.add(new Mutation("frames", v));
        for (String f : List.of("width", "height"))
            for (String v : List.of("65", "17", "\"100\"", "2047", "24")) m.add(new Mutation(f, v, List.of("size"), f));
        m.add(new Mutation("width", "64", List.of(), "size", true));   // size and width together
        // decimals
        for (String v : List.of("0", "-1", "61", "1e309", "-1e309", "\"1e309\"", "\"NaN\"", "\"Infinity\"", "\"abc\"", "true", "[]", "{}",
                "1e-400", "\"0.01\"", "0.049", "\"\"", "[2]"))
            m.add(new Mutation("seconds", v, List.of("frames"), "seconds"));
        m.add(new Mutation("seconds", "2", List.of(), "seconds", true));   // seconds and frames together
        m.add(new Mutation("seconds", "\"60\"", List.of("frames"), "seconds"));   // 60 s at 16 fps is more than 201 frames
        for (String v : List.of("0", "-1", "101", "1e309", "\"1e309\"", "\"NaN\"", "\"abc\"", "true", "[]", "{}", "1e-400", "0.0001"))
            m.add(new Mutation("shift", v));
        // objects
        for (String v : List.of("\"nag\"", "1", "[]", "true", "{}", "{\"type\":1}", "{\"type\":\"x\"}", "{\"type\":null}", "{\"type\":\"NAG\"}",
                "{\"type\":\"nag\",\"scale\":-1}", "{\"type\":\"nag\",\"tau\":0}", "{\"type\":\"nag\",\"alpha\":2}", "{\"type\":\"cfg\",\"scale\":\"big\"}",
                "{\"type\":\"nag\",\"scale\":1e309}", "{\"type\":\"nag\",\"extra\":1}", "{\"type\":\"none\",\"scale\":5}", "{\"type\":\"cfg\",\"scale\":[]}",
                "{\"type\":[\"nag\"]}"))
            m.add(new Mutation("guidance", v));
        for (String v : List.of("{}", "\"ghibli\"", "1", "true", "[1]", "[null]", "[{}]", "[[]]", "[{\"name\":1}]", "[{\"name\":null}]",
                "[{\"name\":\"a\",\"strength\":\"1\"}]", "[{\"name\":\"a\",\"strength\":11}]", "[{\"name\":\"a\",\"strength\":-11}]",
                "[{\"name\":\"a\",\"strength\":1e309}]", "[{\"name\":\"a\",\"strength\":null}]", "[{\"name\":\"a\",\"strength\":1,\"x\":1}]",
                "[" + String.join(",", java.util.Collections.nCopies(9, "{\"name\":\"a\"}")) + "]", "[{\"name\":\"ghibli\"}]",
                "[{\"name\":\"no-such-lora\"}]", "[{\"name\":\"style\",\"strength\":1},{\"name\":\"style\",\"strength\":1}]"))
            m.add(new Mutation("loras", v));
        for (String p : PATHS) m.add(new Mutation("loras", "[{\"name\":" + q(p) + "}]"));
        for (String v : List.of("\"http://x\"", "1", "[]", "{}", "{\"url\":1}", "{\"url\":null}", "{\"url\":\"file:///etc/passwd\"}",
                "{\"url\":\"javascript:alert(1)\"}", "{\"url\":\"http://u:p@h/\"}", "{\"url\":\"not a url\"}", "{\"url\":\"http://\"}",
                "{\"url\":\"gopher://h/\"}", "{\"url\":\"http://h/\",\"events\":\"completed\"}", "{\"url\":\"http://h/\",\"events\":[\"nope\"]}",
                "{\"url\":\"http://h/\",\"events\":[1]}", "{\"url\":" + q("http://h/" + "a".repeat(3000)) + "}",
                "{\"url\":\"http://h/\",\"secret\":\"x\"}", "{\"url\":\"http://h/\\u0000\"}", "{\"url\":\"\"}"))
            m.add(new Mutation("webhook", v));
        for (String v : List.of("\"x\"", "[]", "1", "true", "{\"a\":\"\\u0000\"}", "{\"\\u0000\":1}", "{\"a\":\"\\ud800\"}",
                "{\"big\":" + q("b".repeat(17 * 1024)) + "}"))
            m.add(new Mutation("metadata", v));
        for (String v : List.of("\"data:image/png;base64,AAAA\"", "{}", "null", "[]")) m.add(new Mutation("input_reference", v));
        // unknown fields
        for (String name : List.of("promt", "Prompt", "", " ", "__proto__", "constructor", "prompt ", "\\u0000", "n".repeat(1000),
                "\\ud83d\\ude00", "n_frames", "resolution", "duration", "image", "id", "status"))
            m.add(new Mutation(name, "1", List.of(), name.length() > 100 ? "n".repeat(10) : name.replace("\\u0000", "\u0000")
                    .replace("\\ud83d\\ude00", "\ud83d\ude00")));
        return m;
    }

    static String apply(Mutation mu) {
        Map<String, String> b = base();
        for (String r : mu.remove()) b.remove(r);
        if (mu.value() != null) b.put(mu.field(), mu.value());
        return json(b);
    }

    // ---- the catalogue ----

    List<Case> fixedCases() {
        List<Case> cases = new ArrayList<>();
        // every field mutation once, as JSON
        for (Mutation mu : mutations())
            cases.add(new Case("field " + mu.field() + "=" + abbreviate(mu.value()), postJson(apply(mu)), 400, mu.expectField()));

        // bad JSON
        String valid = json(base());
        for (String s : List.of("", " ", "\r\n", "null", "[]", "1", "\"str\"", "true", "[" + valid + "]", "{", "}", "{\"prompt\"", "{\"prompt\":",
                "{\"prompt\":\"x\"", "{\"prompt\":\"x\",}", "{'prompt':'x'}", "{prompt:\"x\"}", "{\"prompt\":\"x\"/*c*/}", "// c\n" + valid,
                "{\"prompt\":NaN}", "{\"prompt\":\"x\",\"frames\":Infinity}", "{\"prompt\":\"x\",\"frames\":0x10}", "{\"prompt\":\"x\",\"frames\":09}",
                "{\"prompt\":\"x\",\"frames\":+9}", "{\"prompt\":\"x\",\"frames\":.5}", valid + " x", valid + valid, valid + "]",
                "{\"prompt\":\"a\",\"prompt\":\"b\"}", "{\"prompt\":\"a\",\"size\":\"64x48\",\"size\":\"64x48\"}",
                "{\"prompt\":\"x\\q\"}", "{\"prompt\":\"x\\u12\"}", "{\"prompt\":\"line\nbreak\"}", "{\"prompt\":\"tab\there\"}",
                "{\"prompt\":\"x\",\"frames\":" + "1".repeat(2000) + "}", "\u0000" + valid, valid + "\u0000"))
            cases.add(new Case("json " + abbreviate(s), postJson(s), 0, null));
        cases.add(new Case("json BOM", postJson(concat(new byte[]{(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}, bytes(valid))), 0, null));
        cases.add(new Case("json UTF-16", postJson(valid.getBytes(StandardCharsets.UTF_16LE)), 0, null));
        cases.add(new Case("json UTF-16 BOM", postJson(valid.getBytes(StandardCharsets.UTF_16)), 0, null));
        for (byte[] bad : List.of(new byte[]{(byte) 0xFF}, new byte[]{(byte) 0xC0, (byte) 0x80}, new byte[]{(byte) 0x80},
                new byte[]{(byte) 0xED, (byte) 0xA0, (byte) 0x80}, new byte[]{(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80},
                new byte[]{(byte) 0xE2, (byte) 0x82}, new byte[]{(byte) 0xFE, (byte) 0xFF}))
            cases.add(new Case("invalid UTF-8 in prompt " + java.util.HexFormat.of().formatHex(bad),
                    postJson(concat(bytes("{\"prompt\":\"a cat "), bad, bytes("\",\"size\":\"64x48\",\"frames\":9,\"steps\":2}"))), 400, null));
        cases.add(new Case("invalid UTF-8 in a key", postJson(concat(bytes("{\"prompt\":\"a cat\",\""), new byte[]{(byte) 0xC3, (byte) 0x28}, bytes("\":1}"))), 400, null));
        for (int depth : List.of(100_000, 2_000, 501)) {
            cases.add(new Case("nested arrays " + depth, postJson("[".repeat(depth) + "]".repeat(depth)), 0, null));
            cases.add(new Case("nested arrays unclosed " + depth, postJson("[".repeat(depth)), 0, null));
            cases.add(new Case("nested metadata " + depth, postJson("{\"prompt\":\"x\",\"metadata\":" + "{\"a\":".repeat(depth) + "1" + "}".repeat(depth) + "}"), 0, null));
        }
        cases.add(new Case("nested in prompt", postJson("{\"prompt\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}"), 0, null));
        cases.add(new Case("many unknown fields", postJson("{\"prompt\":\"x\"," + joinN(5000, i -> "\"f" + i + "\":" + i) + "}"), 400, "f0"));
        cases.add(new Case("many loras", postJson("{\"prompt\":\"x\",\"loras\":[" + joinN(5000, i -> "{\"name\":\"l" + i + "\"}") + "]}"), 400, "loras"));
        cases.add(new Case("many webhook events", postJson("{\"prompt\":\"x\",\"webhook\":{\"url\":\"http://h/\",\"events\":["
                + joinN(5000, i -> q("e".repeat(20) + i)) + "]}}"), 400, "webhook"));

        // huge prompts and bodies over the limit
        for (int mb : List.of(1, 4)) {
            String big = "{\"prompt\":\"" + "x".repeat(mb << 20) + "\"}";
            cases.add(new Case("prompt of " + mb + " MB", postJson(big), 413, null));
            cases.add(new Case("prompt of " + mb + " MB chunked", http("POST", "/v1/videos", true,
                    List.of(bytes("Content-Type: application/json"), bytes("Transfer-Encoding: chunked")), chunked(bytes(big), 8192), false), 413, null));
        }
        cases.add(new Case("prompt of 200 KB", postJson("{\"prompt\":\"" + "x".repeat(200 << 10) + "\"}"), 400, "prompt"));
        cases.add(new Case("body just over the limit", postJson("{\"prompt\":\"x\",\"metadata\":{\"a\":\"" + "y".repeat(256 << 10) + "\"}}"), 413, null));
        cases.add(new Case("Content-Length says 10 MB, body is small", http("POST", "/v1/videos", true,
                List.of(bytes("Content-Type: application/json"), bytes("Content-Length: 10485760")), bytes(valid), false), 413, null));
        cases.add(new Case("Content-Length huge", http("POST", "/v1/videos", true,
                List.of(bytes("Content-Type: application/json"), bytes("Content-Length: 99999999999999999999")), bytes(valid), false), 0, null));
        cases.add(new Case("Content-Length negative", http("POST", "/v1/videos", true,
                List.of(bytes("Content-Type: application/json"), bytes("Content-Length: -5")), bytes(valid), false), 0, null));
        cases.add(new Case("Content-Length twice, different", http("POST", "/v1/videos", true,
                List.of(bytes("Content-Type: application/json"), bytes("Content-Length: 3"), bytes("Content-Length: " + valid.length())), bytes(valid), false), 0, null));
        cases.add(new Case("body shorter than its Content-Length (stalls)", http("POST", "/v1/videos", true,
                List.of(bytes("Content-Type: application/json"), bytes("Content-Length: 1000")), bytes(valid), false), 408, null));
        cases.add(new Case("chunked body that never ends", http("POST", "/v1/videos", true,
                List.of(bytes("Content-Type: application/json"), bytes("Transfer-Encoding: chunked")), bytes("5\r\n{\"pro\r\n"), false), 408, null));
        cases.add(new Case("chunked with bad chunk size", http("POST", "/v1/videos", true,
                List.of(bytes("Content-Type: application/json"), bytes("Transfer-Encoding: chunked")), bytes("zz\r\n" + valid + "\r\n0\r\n\r\n"), false), 0, null));
        cases.add(new Case("multipart 1 MB", post("multipart/form-data; boundary=XyZ", multipart("XyZ", "prompt", "x".repeat(1 << 20))), 413, null));
        cases.add(new Case("form 1 MB", post("application/x-www-form-urlencoded", bytes("prompt=" + "x".repeat(1 << 20))), 413, null));
        cases.add(new Case("text 1 MB", post("text/plain", bytes("x".repeat(1 << 20))), 0, null));

        // content types
        for (String ct : List.of("text/plain", "application/xml", "text/json", "application/octet-stream", "image/png", "application/jsonx",
                "text/html; charset=utf-8", "*/*", "application/*", "multipart/*", "multipart/mixed; boundary=a", "application/json; charset=utf-16",
                "application/json; charset=latin1", "application/json; charset=ebcdic", "application/json;charset=\"", "garbage",
                "application/", "/", ";", "/json", "application/json/extra", "application/json;;;=",
                "application/json; charset=no-such-charset-" + "x".repeat(100)))
            cases.add(new Case("content type " + ct, post(ct, bytes(valid)), 415, null));
        cases.add(new Case("two content types", http("POST", "/v1/videos", true,
                List.of(bytes("Content-Type: application/json"), bytes("Content-Type: text/plain")), bytes(valid), true), 0, null));
        cases.add(new Case("form content type, JSON body", post("application/x-www-form-urlencoded", bytes(valid)), 400, null));
        cases.add(new Case("multipart content type, JSON body", post("multipart/form-data; boundary=abc", bytes(valid)), 400, null));
        cases.add(new Case("multipart without boundary", post("multipart/form-data", multipart("abc", "prompt", "x")), 400, null));

        // multipart
        String mb = "kazeBoundary";
        String mct = "multipart/form-data; boundary=" + mb;
        cases.add(new Case("multipart without prompt", post(mct, multipart(mb, "size", "64x48")), 400, "prompt"));
        cases.add(new Case("multipart empty", post(mct, bytes("--" + mb + "--\r\n")), 400, "prompt"));
        cases.add(new Case("multipart no parts at all", post(mct, new byte[0]), 400, null));
        cases.add(new Case("multipart seconds 1e309", post(mct, multipart(mb, "prompt", "x", "seconds", "1e309")), 400, "seconds"));
        cases.add(new Case("multipart seconds NaN", post(mct, multipart(mb, "prompt", "x", "seconds", "NaN")), 400, "seconds"));
        cases.add(new Case("multipart seconds empty", post(mct, multipart(mb, "prompt", "x", "seconds", "")), 400, "seconds"));
        cases.add(new Case("multipart seconds -4", post(mct, multipart(mb, "prompt", "x", "seconds", "-4")), 400, "seconds"));
        cases.add(new Case("multipart prompt twice", post(mct, multipart(mb, "prompt", "x", "prompt", "y")), 400, "prompt"));
        cases.add(new Case("multipart unknown part", post(mct, multipart(mb, "prompt", "x", "evil", "1")), 400, "evil"));
        cases.add(new Case("multipart bad loras json", post(mct, multipart(mb, "prompt", "x", "loras", "[{")), 400, "loras"));
        cases.add(new Case("multipart lora path", post(mct, multipart(mb, "prompt", "x", "loras", "[{\"name\":\"../../etc/passwd\"}]")), 400, "loras"));
        cases.add(new Case("multipart file part", post(mct, bytes("--" + mb + "\r\nContent-Disposition: form-data; name=\"prompt\"; filename=\"p.txt\"\r\n"
                + "Content-Type: text/plain\r\n\r\na cat\r\n--" + mb + "--\r\n")), 400, "prompt"));
        cases.add(new Case("multipart input_reference file", post(mct, bytes("--" + mb + "\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx\r\n--" + mb
                + "\r\nContent-Disposition: form-data; name=\"input_reference\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\u0089PNG\r\n--" + mb + "--\r\n")), 400, "input_reference"));
        cases.add(new Case("multipart wrong boundary", post("multipart/form-data; boundary=other", multipart(mb, "prompt", "x")), 400, null));
        cases.add(new Case("multipart truncated", post(mct, bytes("--" + mb + "\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx")), 400, null));
        cases.add(new Case("multipart no closing boundary", post(mct, bytes("--" + mb + "\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx\r\n")), 400, null));
        cases.add(new Case("multipart part without disposition", post(mct, bytes("--" + mb + "\r\nContent-Type: text/plain\r\n\r\nx\r\n--" + mb + "--\r\n")), 400, null));
        cases.add(new Case("multipart part without name", post(mct, bytes("--" + mb + "\r\nContent-Disposition: form-data\r\n\r\nx\r\n--" + mb + "--\r\n")), 400, null));
        cases.add(new Case("multipart huge part header", post(mct, bytes("--" + mb + "\r\nContent-Disposition: form-data; name=\"prompt\"\r\nX-Pad: "
                + "p".repeat(64 * 1024) + "\r\n\r\nx\r\n--" + mb + "--\r\n")), 0, null));
        cases.add(new Case("multipart 2000 parts", post(mct, multipart(mb, java.util.stream.IntStream.range(0, 2000)
                .mapToObj(i -> new String[]{"p" + i, "v"}).flatMap(java.util.Arrays::stream).toArray(String[]::new))), 0, null));
        cases.add(new Case("multipart invalid UTF-8 value", post(mct, concat(bytes("--" + mb + "\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n"),
                new byte[]{(byte) 0xFF, (byte) 0xFE}, bytes("\r\n--" + mb + "--\r\n"))), 400, "prompt"));
        cases.add(new Case("multipart NUL in name", post(mct, multipart(mb, "prompt", "x", "pro\u0000mpt", "y")), 400, null));
        cases.add(new Case("multipart boundary 200 chars", post("multipart/form-data; boundary=" + "b".repeat(200), multipart("b".repeat(200), "prompt", "x", "frames", "10")), 400, "frames"));
        cases.add(new Case("multipart size garbage", post(mct, multipart(mb, "prompt", "x", "size", "64x48; DROP TABLE jobs")), 400, "size"));
        // urlencoded
        cases.add(new Case("form without prompt", post("application/x-www-form-urlencoded", bytes("size=64x48")), 400, "prompt"));
        cases.add(new Case("form bad escapes", post("application/x-www-form-urlencoded", bytes("prompt=%zz&size=%")), 0, null));
        cases.add(new Case("form prompt twice", post("application/x-www-form-urlencoded", bytes("prompt=a&prompt=b")), 400, "prompt"));
        cases.add(new Case("form seconds 1e309", post("application/x-www-form-urlencoded", bytes("prompt=a&seconds=1e309")), 400, "seconds"));
        cases.add(new Case("form NUL in prompt", post("application/x-www-form-urlencoded", bytes("prompt=a%00b")), 400, "prompt"));
        cases.add(new Case("form invalid UTF-8", post("application/x-www-form-urlencoded", bytes("prompt=a%FF%FEb")), 400, "prompt"));
        cases.add(new Case("form empty key", post("application/x-www-form-urlencoded", bytes("=x&prompt=a")), 400, null));

        // Authorization
        List<byte[]> ctJson = List.of(bytes("Content-Type: application/json"));
        for (String a : List.of("Basic Zm9vOmJhcg==", "Bearer", "Bearer ", "Bearer wrong", "Bearer fuzz-key extra", "Token fuzz-key", "fuzz-key",
                "Bearer\tfuzz-key", "Bearer " + "x".repeat(2000), "Bearer fuzz-key\u0001", "Bearer fuzz\u007fkey", "", "Bearerfuzz-key",
                "Bearer  fuzz-keyy", "Digest username=\"x\""))
            cases.add(new Case("Authorization " + abbreviate(a), http("POST", "/v1/videos", false, withAll(ctJson, bytes("Authorization: " + a)), bytes(SMALL), true), 0, null));
        cases.add(new Case("Authorization latin-1", http("POST", "/v1/videos", false, withAll(ctJson,
                concat(bytes("Authorization: Bearer fuzz-k"), new byte[]{(byte) 0xE9, (byte) 0xFF}, bytes("y"))), bytes(SMALL), true), 401, null));
        cases.add(new Case("no Authorization", http("POST", "/v1/videos", false, ctJson, bytes(SMALL), true), 401, null));
        cases.add(new Case("no Authorization, GET", http("GET", "/v1/videos", false, List.of(), null, false), 401, null));
        cases.add(new Case("Authorization twice", http("POST", "/v1/videos", true, withAll(ctJson, bytes("Authorization: Bearer " + KEY)), bytes(SMALL), true), 400, null));
        cases.add(new Case("Authorization twice, one bad", http("POST", "/v1/videos", true, withAll(ctJson, bytes("Authorization: Bearer x")), bytes(SMALL), true), 400, null));
        cases.add(new Case("access_token wrong", http("GET", "/v1/videos?access_token=wrong", false, List.of(), null, false), 401, null));
        cases.add(new Case("access_token bad escape", http("GET", "/v1/videos?access_token=%zz", false, List.of(), null, false), 0, null));
        cases.add(new Case("access_token huge", http("GET", "/v1/videos?access_token=" + "a".repeat(3000), false, List.of(), null, false), 401, null));
        cases.add(new Case("access_token empty", http("GET", "/v1/videos?access_token=", false, List.of(), null, false), 401, null));

        // Idempotency-Key
        for (byte[] key : List.of(bytes("a b"), bytes(""), bytes("k".repeat(256)), bytes("\u0001k"), bytes("a\u007fb"), bytes("tab\there"),
                new byte[]{'k', (byte) 0xE9}, bytes("k\u20ac"), bytes("k\u0000x"), bytes("k".repeat(6000))))
            cases.add(new Case("Idempotency-Key " + abbreviate(new String(key, StandardCharsets.ISO_8859_1)), http("POST", "/v1/videos", true,
                    withAll(ctJson, concat(bytes("Idempotency-Key: "), key)), bytes(SMALL), true), 0, null));
        cases.add(new Case("Idempotency-Key 100 KB", http("POST", "/v1/videos", true,
                withAll(ctJson, bytes("Idempotency-Key: " + "k".repeat(100_000))), bytes(SMALL), true), 0, null));
        cases.add(new Case("Idempotency-Key twice", http("POST", "/v1/videos", true,
                withAll(ctJson, bytes("Idempotency-Key: k1"), bytes("Idempotency-Key: k2")), bytes(SMALL), true), 400, "Idempotency-Key"));
        cases.add(new Case("Idempotency-Key twice, same", http("POST", "/v1/videos", true,
                withAll(ctJson, bytes("Idempotency-Key: k1"), bytes("Idempotency-Key: k1")), bytes(SMALL), true), 400, "Idempotency-Key"));
        cases.add(new Case("Idempotency-Key comma list", http("POST", "/v1/videos", true,
                withAll(ctJson, bytes("Idempotency-Key: k1, k2")), bytes(SMALL), true), 400, "Idempotency-Key"));

        // other hostile headers
        cases.add(new Case("200 headers of 1 KB", http("GET", "/v1/videos/nope", true, java.util.stream.IntStream.range(0, 200)
                .mapToObj(i -> bytes("X-H" + i + ": " + "v".repeat(1000))).toList(), null, false), 0, null));
        cases.add(new Case("header without colon", http("GET", "/v1/videos/nope", true, List.of(bytes("NoColonHere")), null, false), 0, null));
        cases.add(new Case("header name with space", http("GET", "/v1/videos/nope", true, List.of(bytes("Bad Name: x")), null, false), 0, null));
        cases.add(new Case("folded header", http("GET", "/v1/videos/nope", true, List.of(bytes("X-A: a"), bytes(" folded")), null, false), 0, null));
        cases.add(new Case("Transfer-Encoding and Content-Length", http("POST", "/v1/videos", true, withAll(ctJson,
                bytes("Transfer-Encoding: chunked"), bytes("Content-Length: 5")), bytes("5\r\n{\"a\":\r\n0\r\n\r\n"), false), 0, null));
        cases.add(new Case("Transfer-Encoding gzip", http("POST", "/v1/videos", true, withAll(ctJson,
                bytes("Transfer-Encoding: gzip")), bytes(valid), true), 0, null));
        cases.add(new Case("Content-Encoding gzip, plain body", http("POST", "/v1/videos", true, withAll(ctJson,
                bytes("Content-Encoding: gzip")), bytes("not gzip at all"), true), 0, null));
        cases.add(new Case("Expect 100-continue huge", http("POST", "/v1/videos", true, withAll(ctJson,
                bytes("Expect: 100-continue"), bytes("Content-Length: 50000000")), null, false), 413, null));
        cases.add(new Case("Expect nonsense", http("POST", "/v1/videos", true, withAll(ctJson, bytes("Expect: teapot")), bytes("{"), true), 0, null));

        // methods and paths
        for (String method : List.of("PUT", "PATCH", "TRACE", "FOO", "get", "DELETE"))
            cases.add(new Case(method + " /v1/videos", http(method, "/v1/videos", true, List.of(), null, false), 405, null));
        cases.add(new Case("POST a video id", http("POST", "/v1/videos/video_x", true, ctJson, bytes("{}"), true), 405, null));
        cases.add(new Case("PUT a video id", http("PUT", "/v1/videos/video_x", true, ctJson, bytes("{}"), true), 405, null));
        cases.add(new Case("GET cancel", get("/v1/videos/video_x/cancel"), 405, null));
        cases.add(new Case("bad method token", http("G(T", "/v1/videos", true, List.of(), null, false), 0, null));
        cases.add(new Case("CONNECT", http("CONNECT", "127.0.0.1:80", true, List.of(), null, false), 0, null));
        cases.add(new Case("HTTP/2.0 request line", bytes("GET /v1/videos HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n"), 0, null));
        cases.add(new Case("HTTP/9.9", bytes("GET /v1/videos HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n"), 0, null));
        cases.add(new Case("garbage request line", bytes("\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\r\n\r\n"), 0, null));
        cases.add(new Case("no Host", bytes("GET /v1/videos/nope HTTP/1.1\r\nConnection: close\r\nAuthorization: Bearer " + KEY + "\r\n\r\n"), 404, null));
        for (String path : List.of("/v1/videos/../..", "/v1/videos/%2e%2e/%2e%2e", "/v1/videos/%2e%2e", "/v1/videos/..", "/v1/videos/.",
                "/v1/videos/%00", "/v1/videos/x%00y", "/v1/videos/" + "a".repeat(1000), "/v1/videos/" + "a".repeat(65),
                "/v1/videos/%E2%98%83", "/v1/videos/\u2603", "/v1/videos/\u0000", "/v1/videos/%zz", "/v1/videos/%", "/v1/videos/%ff%fe",
                "/v1/videos/a/b/c/d", "/v1//videos", "/v1/videos//", "/V1/VIDEOS", "/nope.html", "/v1", "/v1/", "/v2/videos", "/v1/videos;x=1/abc",
                "/v1/videos/abc;jsessionid=1", "/v1/videos/abc%2Fdef", "/v1/videos/abc%5Cdef", "/v1/videos/..%2F..%2Fetc%2Fpasswd",
                "/v1/videos/....//....//etc/passwd", "/v1/videos/abc/content/../../../etc/passwd", "/actuator/../v1/videos/x",
                "/v1/videos/video_x/events/extra", "/v1/videos/%20", "/v1/videos/a b", "/v1/videos/<script>", "/v1/videos/{id}",
                "/v1/videos/' OR '1'='1", "/js/../../application.yml", "/%2e%2e/application.yml", "/js/%2e%2e/%2e%2e/application.yml", "/error", "/v1/videos/video_x/content/x"))
            cases.add(new Case("GET " + abbreviate(path), get(path), 0, null));
        cases.add(new Case("GET a long id (5000)", get("/v1/videos/" + "a".repeat(5000)), 0, null));
        cases.add(new Case("GET a long id (70000)", get("/v1/videos/" + "a".repeat(70_000)), 0, null));
        cases.add(new Case("absolute-form target", get("http://evil.example/v1/videos/nope"), 404, null));
        cases.add(new Case("asterisk target", http("GET", "*", true, List.of(), null, false), 0, null));
        cases.add(new Case("relative target", get("v1/videos"), 0, null));
        cases.add(new Case("target with fragment", get("/v1/videos/nope#frag"), 0, null));
        cases.add(new Case("DELETE an unknown id", http("DELETE", "/v1/videos/video_nope", true, List.of(), null, false), 404, null));
        cases.add(new Case("cancel an unknown id", http("POST", "/v1/videos/video_nope/cancel", true, List.of(), new byte[0], true), 404, null));
        cases.add(new Case("cancel with a body", http("POST", "/v1/videos/video_nope/cancel", true, ctJson, bytes("x".repeat(1 << 20)), true), 0, null));

        // query parameters
        for (String qs : List.of("limit=-1", "limit=0", "limit=101", "limit=abc", "limit=", "limit=1e2", "limit=%00", "limit=99999999999999",
                "limit=1.5", "limit=+5", "limit=5&limit=500", "limit=5&limit=5", "status=x", "status=QUEUED", "status=", "status=queued&status=failed",
                "status=%00", "after=garbage", "after=" + "a".repeat(300), "after=%ff%fe", "after=..%2F..", "after=x&after=y",
                "after=" + b64("+1000000000-12-31T23:59:59Z|x"), "after=" + b64("-1000000000-01-01T00:00:00Z|x"), "after=" + b64("2024-01-01T00:00:00Z"),
                "after=" + b64("not-a-date|x"), "after=====",
                "limit=0&status=bogus&after=bogus"))
            cases.add(new Case("list ?" + abbreviate(qs), get("/v1/videos?" + qs), 400, qs.substring(0, qs.indexOf('='))));
        for (String qs : List.of("variant=x", "variant=", "variant=VIDEO", "variant=../../etc/passwd", "variant=video&variant=thumbnail", "variant=%00"))
            cases.add(new Case("content ?" + qs, get("/v1/videos/video_nope/content?" + qs), 400, "variant"));
        for (String qs : List.of("after=-1", "after=abc", "after=99999999999999999999", "after=1.5", "after=1&after=2"))
            cases.add(new Case("events ?" + qs, http("GET", "/v1/videos/video_nope/events?" + qs, true, List.of(bytes("Accept: text/event-stream")), null, false), 400, "after"));
        for (String id : List.of("-1", "abc", "99999999999999999999", "1,2", "1e3"))
            cases.add(new Case("events Last-Event-ID " + id, http("GET", "/v1/videos/video_nope/events", true,
                    List.of(bytes("Accept: text/event-stream"), bytes("Last-Event-ID: " + id)), null, false), 400, "Last-Event-ID"));
        cases.add(new Case("events unknown id", http("GET", "/v1/videos/video_nope/events", true, List.of(bytes("Accept: text/event-stream")), null, false), 404, null));
        cases.add(new Case("events with Accept: application/xml", http("GET", "/v1/videos/video_nope/events", true, List.of(bytes("Accept: application/xml")), null, false), 0, null));
        cases.add(new Case("list with Accept: image/png", http("GET", "/v1/videos?limit=0", true, List.of(bytes("Accept: image/png")), null, false), 0, null));

        // WebSocket handshakes gone wrong
        for (List<String> h : List.of(List.of("Upgrade: websocket", "Connection: Upgrade"),
                List.of("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"),
                List.of("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 99"),
                List.of("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: !!", "Sec-WebSocket-Version: 13"),
                List.of("Upgrade: websocket", "Connection: keep-alive", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")))
            cases.add(new Case("websocket " + h, http("GET", "/v1/videos/video_nope/events", true, h.stream().map(VideoApiFuzzTest::bytes).toList(), null, false), 0, null));
        cases.add(new Case("websocket POST", http("POST", "/v1/videos/video_nope/events", true, List.of(bytes("Upgrade: websocket"), bytes("Connection: Upgrade"),
                bytes("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), bytes("Sec-WebSocket-Version: 13")), new byte[0], true), 0, null));
        cases.add(new Case("websocket without key", http("GET", "/v1/videos/video_nope/events", false, List.of(bytes("Upgrade: websocket"), bytes("Connection: Upgrade"),
                bytes("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), bytes("Sec-WebSocket-Version: 13")), null, false), 401, null));
        return cases;
    }

    /** Range requests against a completed video. */
    List<Case> rangeCases(String id) {
        List<Case> cases = new ArrayList<>();
        for (String range : List.of("bytes=999999999-", "bytes=10-5", "bytes=abc", "bytes=-0", "items=0-1", "bytes=" + joinN(200, i -> i + "-" + i),
                "bytes=0-1,bytes=2-3", "bytes=99999999999999999999-", "bytes= -", "bytes=--1"))
            cases.add(new Case("Range " + abbreviate(range), http("GET", "/v1/videos/" + id + "/content", true, List.of(bytes("Range: " + range)), null, false), 416, null));
        for (String etag : List.of("\"unterminated", "W/", "W/\"", ",,,"))
            cases.add(new Case("If-None-Match " + etag, http("GET", "/v1/videos/" + id + "/content", true, List.of(bytes("If-None-Match: " + etag)), null, false), 400, "If-None-Match"));
        cases.add(new Case("variant on a finished video", get("/v1/videos/" + id + "/content?variant=poster"), 400, "variant"));
        return cases;
    }

    /** Seeded random cases: one to three field mutations, JSON corruptions, header and path noise. */
    List<Case> randomCases(Random rnd, int n) {
        List<Mutation> all = mutations().stream().filter(mu -> !mu.contextual()).toList();
        List<Case> cases = new ArrayList<>();
        String valid = json(base());
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(100);
            if (kind < 45) {   // several wrong fields at once
                int k = 1 + rnd.nextInt(3);
                Map<String, String> b = base();
                List<String> fields = new ArrayList<>();
                for (int j = 0; j < k; j++) {
                    Mutation mu = all.get(rnd.nextInt(all.size()));
                    if (fields.contains(mu.expectField()) || b.containsKey(mu.field()) && !base().containsKey(mu.field())) continue;
                    for (String r : mu.remove()) b.remove(r);
                    if (mu.value() != null) b.put(mu.field(), mu.value());
                    fields.add(mu.expectField());
                }
                cases.add(new Case("random fields " + fields + " " + abbreviate(json(b)), postJson(json(b)), 400, String.join("|", fields)));
            } else if (kind < 55) {   // truncated
                int cut = 1 + rnd.nextInt(valid.length() - 1);
                cases.add(new Case("random truncated at " + cut, postJson(valid.substring(0, cut)), 400, null));
            } else if (kind < 65) {   // a structural character replaced
                List<Integer> at = new ArrayList<>();
                for (int j = 0; j < valid.length(); j++) if ("{}:,\"".indexOf(valid.charAt(j)) >= 0) at.add(j);
                int p = at.get(rnd.nextInt(at.size()));
                char c = ";= '#\\\u0000\u00e9".charAt(rnd.nextInt(8));
                cases.add(new Case("random structure " + p + "->" + (int) c, postJson(valid.substring(0, p) + c + valid.substring(p + 1)), 400, null));
            } else if (kind < 72) {   // invalid UTF-8 bytes inside the prompt
                byte[] junk = new byte[1 + rnd.nextInt(6)];
                for (int j = 0; j < junk.length; j++) junk[j] = (byte) (0x80 + rnd.nextInt(0x80));
                junk[0] = (byte) (0x80 + rnd.nextInt(0x40));   // a continuation byte cannot start a character
                cases.add(new Case("random invalid UTF-8 " + java.util.HexFormat.of().formatHex(junk),
                        postJson(concat(bytes("{\"prompt\":\"a "), junk, bytes(" cat\",\"size\":\"64x48\",\"frames\":9,\"steps\":2}"))), 400, null));
            } else if (kind < 80) {   // random ids
                String id = randomId(rnd);
                String[] suffix = {"", "/content", "/cancel", "/events"};
                String s = suffix[rnd.nextInt(suffix.length)];
                String method = s.equals("/cancel") ? "POST" : rnd.nextBoolean() ? "GET" : s.isEmpty() ? "DELETE" : "GET";
                cases.add(new Case("random id " + method + " " + abbreviate(id) + s, http(method, "/v1/videos/" + id + s, true,
                        s.equals("/events") ? List.of(bytes("Accept: text/event-stream")) : List.of(), method.equals("POST") ? new byte[0] : null, method.equals("POST")), 0, null));
            } else if (kind < 88) {   // random query noise on the list
                String[] names = {"limit", "status", "after"};
                String name = names[rnd.nextInt(3)];
                String value = randomQueryValue(rnd, name);
                cases.add(new Case("random list ?" + name + "=" + abbreviate(value), get("/v1/videos?" + name + "=" + value), 400, name));
            } else if (kind < 94) {   // random Idempotency-Key bytes
                byte[] key = new byte[1 + rnd.nextInt(40)];
                for (int j = 0; j < key.length; j++) key[j] = (byte) ('a' + rnd.nextInt(26));
                int bad = rnd.nextInt(key.length);
                int[] badBytes = {0x01, 0x7f, ' ', 0x09, 0x80, 0xff, 0xe9, 0x1b, 0x0b, 0x0c};
                key[bad] = (byte) badBytes[rnd.nextInt(badBytes.length)];
                if (bad == 0 || bad == key.length - 1) key[bad] = (byte) 0x7f;   // leading/trailing whitespace would be trimmed away
                cases.add(new Case("random Idempotency-Key " + java.util.HexFormat.of().formatHex(key), http("POST", "/v1/videos", true,
                        List.of(bytes("Content-Type: application/json"), concat(bytes("Idempotency-Key: "), key)), bytes(SMALL), true), 400, null));
            } else {   // random content types with a good body
                String[] types = {"text", "image", "audio", "application", "x-custom", "font"};
                String[] subs = {"plain", "xml", "yaml", "jsonl", "x-json", "json5", "csv", "protobuf", "msgpack", "cbor"};
                String ct = types[rnd.nextInt(types.length)] + "/" + subs[rnd.nextInt(subs.length)];
                cases.add(new Case("random content type " + ct, post(ct, bytes(SMALL)), 415, null));
            }
        }
        return cases;
    }

    static String randomId(Random rnd) {
        String[] pieces = {"a", "Z", "9", "_", "-", ".", "..", "%2e", "%2F", "%00", "%zz", "%", "\u00e9", "\u2603", "\ud83d\ude00", "'", "\"",
                "<", ">", "{", "}", "|", "\\", "^", "`", "%20", "~", "!", "$", "&", "(", ")", "*", "+", ",", ";", "=", "@", ":", "[", "]"};
        StringBuilder b = new StringBuilder();
        int len = rnd.nextInt(10) == 0 ? 60 + rnd.nextInt(400) : 1 + rnd.nextInt(20);
        for (int i = 0; i < len; i++) b.append(pieces[rnd.nextInt(pieces.length)]);
        return b.toString();
    }

    static String randomQueryValue(Random rnd, String name) {
        return switch (name) {
            case "limit" -> switch (rnd.nextInt(5)) {
                case 0 -> Integer.toString(-rnd.nextInt(1_000_000));
                case 1 -> Long.toString(101 + (long) rnd.nextInt(Integer.MAX_VALUE) * 1000);
                case 2 -> "x" + rnd.nextInt(100);
                case 3 -> rnd.nextInt(100) + ".5";
                default -> String.format("%%%02X", rnd.nextInt(256)) + "x";
            };
            case "status" -> List.of("queue", "Completed", "done", "running", "in-progress", "%00", "all", "*", "null", "1").get(rnd.nextInt(10)) + (rnd.nextBoolean() ? "" : "x");
            default -> {
                byte[] raw = new byte[1 + rnd.nextInt(60)];
                rnd.nextBytes(raw);
                yield rnd.nextBoolean() ? Base64.getUrlEncoder().withoutPadding().encodeToString(raw) : "zz" + rnd.nextInt();
            }
        };
    }

    static String b64(String s) { return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8)); }

    static byte[] chunked(byte[] body, int size) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int off = 0; off < body.length; off += size) {
            int n = Math.min(size, body.length - off);
            out.writeBytes(bytes(Integer.toHexString(n) + "\r\n"));
            out.write(body, off, n);
            out.writeBytes(bytes("\r\n"));
        }
        out.writeBytes(bytes("0\r\n\r\n"));
        return out.toByteArray();
    }

    static String joinN(int n, java.util.function.IntFunction<String> f) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) b.append(i == 0 ? "" : ",").append(f.apply(i));
        return b.toString();
    }

    @SafeVarargs
    static <T> List<T> withAll(List<T> list, T... more) {
        List<T> l = new ArrayList<>(list);
        l.addAll(List.of(more));
        return l;
    }

    static String abbreviate(String s) { return abbreviate(s, 60); }

    static String abbreviate(String s, int max) {
        if (s == null) return "<absent>";
        String t = s.length() > max ? s.substring(0, max * 2 / 3) + "…(" + s.length() + ")" : s;
        StringBuilder b = new StringBuilder();
        t.codePoints().forEach(c -> b.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", c) : Character.toString(c)));
        return b.toString();
    }

    // ---- checking ----

    /** Why the response is not the problem detail the case asks for, or null. */
    static String check(Case c, RawHttp.Response r) {
        if (r.failure() != null && r.status() < 0) return r.failure();
        if (r.status() < 400 || r.status() > 499 || r.status() == 429) return "status " + r.status() + ": " + abbreviate(r.text());
        if (c.status() != 0 && r.status() != c.status()) return "status " + r.status() + ", expected " + c.status() + ": " + abbreviate(r.text());
        String ct = r.header("content-type");
        if (ct == null || !ct.toLowerCase().startsWith("application/problem+json"))
            return "Content-Type " + ct + " (status " + r.status() + "): " + abbreviate(r.text());
        JsonNode p;
        try {
            p = JSON.readTree(r.body());
        } catch (RuntimeException e) {
            return "body is not JSON: " + abbreviate(r.text());
        }
        if (!p.isObject()) return "problem is not an object";
        for (String f : List.of("type", "title", "detail"))
            if (!p.path(f).isString() || p.path(f).asString().isBlank()) return "problem without " + f + ": " + abbreviate(r.text());
        if (!URI.create(p.get("type").asString()).isAbsolute()) return "type is not an absolute URI";
        if (!p.path("status").isInt() || p.get("status").asInt() != r.status()) return "problem status " + p.get("status") + " is not the HTTP status " + r.status();
        if (p.get("type").asString().endsWith("/validation")) {
            JsonNode errors = p.get("errors");
            if (errors == null || !errors.isArray() || errors.isEmpty()) return "validation problem without errors: " + abbreviate(r.text());
            for (JsonNode e : errors)
                if (!e.path("field").isString() || !e.path("message").isString()) return "an error without field and message: " + e;
        }
        if (c.field() != null) {
            if (!p.has("errors")) return "expected errors naming " + c.field() + ": " + abbreviate(r.text());
            List<String> named = p.get("errors").findValuesAsString("field");
            boolean any = false;
            for (String want : c.field().split("\\|", -1))
                for (String got : named) if (got.equals(want) || (!want.isEmpty() && got.startsWith(want))) any = true;
            if (!any) return "errors name " + named + ", not " + c.field();
        }
        if (r.body().length > 64 * 1024) return "problem of " + r.body().length + " bytes";
        return null;
    }

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void hostileRequestsGetProblemDetailsAndTheQueueKeepsWorking() throws Exception {
        ApiClient client = new ApiClient(port, KEY);
        RawHttp raw = new RawHttp(port, 10_000);

        // a finished video to aim Range requests at
        String first = ApiClient.json(client.post("/v1/videos", SMALL)).get("id").asString();
        assertThat(client.awaitTerminal(first, Duration.ofSeconds(90)).get("status").asString()).isEqualTo("completed");

        List<Case> cases = new ArrayList<>(fixedCases());
        cases.addAll(rangeCases(first));
        cases.addAll(randomCases(new Random(SEED), RANDOM_CASES));

        long start = System.nanoTime();
        List<String> failures = new ArrayList<>();
        Map<String, Integer> answers = new java.util.TreeMap<>();
        String dump = System.getProperty("kaze.fuzz.dump");   // a file to write every case and its answer to
        StringBuilder log = new StringBuilder();
        for (Case c : cases) {
            RawHttp.Response r = raw.exchange(c.request());
            String why = check(c, r);
            if (why != null) failures.add(c.name() + " -> " + why);
            String type = r.status() < 0 ? "-" : JSON.readTree(r.body().length > 0 && r.text().startsWith("{") ? r.text() : "{}").path("type").asString("");
            answers.merge(r.status() + " " + type.substring(type.lastIndexOf('/') + 1), 1, Integer::sum);
            if (dump != null) log.append(c.name()).append("\n  -> ").append(r.status()).append(' ').append(abbreviate(r.text(), 600)).append('\n');
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (dump != null) java.nio.file.Files.writeString(java.nio.file.Path.of(dump), log);
        System.out.printf("fuzz: %d requests in %.1f s (seed %d), %d failures; answers: %s%n", cases.size(), seconds, SEED, failures.size(), answers);
        assertThat(failures).as("seed " + SEED + ": requests that did not get a 4xx problem detail").isEmpty();
        assertThat(seconds).as("the fuzz run must stay bounded").isLessThan(60);

        // nothing was queued by the noise, and the queue still renders a normal request
        JsonNode list = ApiClient.json(client.get("/v1/videos?limit=100"));
        assertThat(list.get("data").size()).as("no hostile request created a job").isEqualTo(1);
        String after = ApiClient.json(client.post("/v1/videos", SMALL.replace("a cat", "a dog"))).get("id").asString();
        JsonNode done = client.awaitTerminal(after, Duration.ofSeconds(90));
        assertThat(done.get("status").asString()).isEqualTo("completed");
        assertThat(client.get("/v1/videos/" + after + "/content").statusCode()).isEqualTo(200);
    }
}
