package dev.kaze.api;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 over a plain socket to 127.0.0.1, byte for byte as given: the fuzz test needs
 * requests no well-behaved client will send (control characters in headers, repeated headers,
 * raw non-ASCII in the request line, lying Content-Length, broken chunking).
 */
final class RawHttp {
    /** A response as read off the wire; {@code status} is -1 where none came before the connection closed. */
    record Response(int status, Map<String, List<String>> headers, byte[] body, String failure) {
        String header(String name) {
            List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
            return v == null || v.isEmpty() ? null : v.getFirst();
        }

        String text() { return new String(body, StandardCharsets.UTF_8); }
    }

    private final int port;
    private final int timeoutMillis;

    RawHttp(int port, int timeoutMillis) {
        this.port = port;
        this.timeoutMillis = timeoutMillis;
    }

    /** Sends the bytes (written on another thread, so an early answer to a large body is still read) and reads one response. */
    Response exchange(byte[] request) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), timeoutMillis);
            socket.setSoTimeout(timeoutMillis);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    OutputStream out = socket.getOutputStream();
                    for (int off = 0; off < request.length; off += 64 * 1024) {
                        out.write(request, off, Math.min(64 * 1024, request.length - off));
                    }
                    out.flush();
                } catch (IOException ignored) {
                    // the server may answer and close before the whole body was sent
                }
            });
            Response r = read(socket.getInputStream());
            writer.join(timeoutMillis);
            return r;
        } catch (SocketTimeoutException e) {
            return new Response(-1, Map.of(), new byte[0], "no complete response within " + timeoutMillis + " ms (hang)");
        } catch (IOException | InterruptedException e) {
            return new Response(-1, Map.of(), new byte[0], e.toString());
        }
    }

    private Response read(InputStream in) throws IOException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        byte[] data = new byte[0];
        byte[] buf = new byte[16 * 1024];
        boolean eof = false;
        while (true) {
            int headerEnd = indexOf(data, CRLFCRLF);
            if (headerEnd >= 0 && isInterim(data)) {   // 100 Continue and the like: the answer follows
                data = java.util.Arrays.copyOfRange(data, headerEnd + 4, data.length);
                continue;
            }
            if (headerEnd >= 0) {
                Response r = parse(data, headerEnd, eof);
                if (r != null) return r;
            }
            if (eof) {
                if (headerEnd < 0) return new Response(-1, Map.of(), data, "connection closed without a response (" + data.length + " bytes)");
                return new Response(-1, Map.of(), data, "connection closed in the middle of the response");
            }
            if (System.nanoTime() > deadline) throw new SocketTimeoutException("deadline");
            int n;
            try {
                n = in.read(buf);
            } catch (java.net.SocketException e) {
                if (data.length == 0) throw e;
                n = -1;   // a reset after (part of) the answer: keep what came
            }
            if (n < 0) eof = true;
            else {
                byte[] more = java.util.Arrays.copyOf(data, data.length + n);
                System.arraycopy(buf, 0, more, data.length, n);
                data = more;
            }
        }
    }

    private static final byte[] CRLFCRLF = "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);

    private static boolean isInterim(byte[] data) {
        String start = new String(data, 0, Math.min(data.length, 16), StandardCharsets.ISO_8859_1);
        return start.matches("HTTP/\\d\\.\\d 1\\d\\d.*") && !start.startsWith("101", 9);
    }

    /** The response if it is complete in {@code data}, else null. */
    private static Response parse(byte[] data, int headerEnd, boolean eof) {
        String head = new String(data, 0, headerEnd, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r\n");
        String[] statusLine = lines[0].split(" ", 3);
        int status;
        try {
            status = Integer.parseInt(statusLine[1]);
        } catch (RuntimeException e) {
            return new Response(-1, Map.of(), data, "not an HTTP status line: " + lines[0]);
        }
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) continue;
            headers.computeIfAbsent(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                    .add(lines[i].substring(colon + 1).strip());
        }
        int start = headerEnd + 4;
        List<String> te = headers.get("transfer-encoding");
        List<String> cl = headers.get("content-length");
        if (status == 204 || status == 304 || status == 101) return new Response(status, headers, new byte[0], null);
        if (te != null && te.getFirst().toLowerCase(Locale.ROOT).contains("chunked")) {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            int p = start;
            while (true) {
                int eol = indexOf(data, p, "\r\n".getBytes(StandardCharsets.ISO_8859_1));
                if (eol < 0) return eof ? new Response(status, headers, body.toByteArray(), "truncated chunked body") : null;
                String sizeText = new String(data, p, eol - p, StandardCharsets.ISO_8859_1);
                int semi = sizeText.indexOf(';');
                int size = Integer.parseInt((semi >= 0 ? sizeText.substring(0, semi) : sizeText).strip(), 16);
                if (size == 0) return new Response(status, headers, body.toByteArray(), null);
                if (eol + 2 + size + 2 > data.length) return eof ? new Response(status, headers, body.toByteArray(), "truncated chunked body") : null;
                body.write(data, eol + 2, size);
                p = eol + 2 + size + 2;
            }
        }
        if (cl != null) {
            int length = Integer.parseInt(cl.getFirst());
            if (data.length - start < length)
                return eof ? new Response(status, headers, java.util.Arrays.copyOfRange(data, start, data.length), "truncated body") : null;
            return new Response(status, headers, java.util.Arrays.copyOfRange(data, start, start + length), null);
        }
        return eof ? new Response(status, headers, java.util.Arrays.copyOfRange(data, start, data.length), null) : null;
    }

    private static int indexOf(byte[] data, byte[] what) { return indexOf(data, 0, what); }

    private static int indexOf(byte[] data, int from, byte[] what) {
        outer:
        for (int i = from; i <= data.length - what.length; i++) {
            for (int j = 0; j < what.length; j++) if (data[i + j] != what[j]) continue outer;
            return i;
        }
        return -1;
    }
}
