package dev.kaze.api;

import dev.kaze.storage.FileStore;
import dev.kaze.storage.StoredFile;
import org.springframework.core.ResolvableType;
import org.springframework.core.codec.Hints;
import org.springframework.core.io.AbstractResource;
import org.springframework.core.io.FileSystemResource;
import org.springframework.core.io.Resource;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferFactory;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.core.io.support.ResourceRegion;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpRange;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ResourceHttpMessageWriter;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.util.MimeTypeUtils;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * A job's stored file as an HTTP answer: a strong ETag from the tag, size and modification time, 304 for a matching
 * If-None-Match, byte ranges (206; several as {@code multipart/byteranges}; a Range that cannot be served is a 416
 * problem with {@code Content-Range: bytes *}/length), private caching for an hour, inline Content-Disposition.
 *
 * <p>From a local directory the file itself is sent by Spring's resource writer (zero copy, its regions). From a
 * bucket the bytes stream from a GET of the object, and each range from a ranged GET of just that range, read on the
 * bounded elastic scheduler, never on the event loop.
 *
 * @param files    the store the file is in
 * @param file     the file, as found when the request came
 * @param local    the file itself when the store is a local directory, else null
 * @param type     its media type
 * @param tag      what the ETag names besides the file's size and time ({@code <id>-video})
 * @param filename the name offered in Content-Disposition
 */
record FileDownload(FileStore files, StoredFile file, Path local, MediaType type, String tag, String filename) {
    private static final int BUFFER_BYTES = 64 * 1024;
    private static final ResourceHttpMessageWriter LOCAL_FILES = new ResourceHttpMessageWriter(BUFFER_BYTES);

    /** The download of the file under key, or empty when there is none (blocking: asks the store). */
    static Optional<FileDownload> find(FileStore files, String key, MediaType type, String tag, String filename) {
        return files.stat(key).map(f -> new FileDownload(files, f, files.localFile(key).orElse(null), type, tag, filename));
    }

    /** {@code "<tag>-<size>-<modified millis>"}: changes whenever the file is written again. */
    String etag() {
        return "\"" + tag + "-" + file.size() + "-" + file.lastModified().toEpochMilli() + "\"";
    }

    /**
     * Writes the answer. A malformed If-None-Match (400) or a Range that cannot be served (416) fails the returned
     * Mono before anything is written, so it becomes a problem.
     */
    Mono<Void> write(ServerWebExchange exchange) {
        ServerHttpRequest request = exchange.getRequest();
        ServerHttpResponse response = exchange.getResponse();
        String etag = etag();
        List<String> ifNoneMatch;
        try {
            ifNoneMatch = request.getHeaders().getIfNoneMatch();
        } catch (IllegalArgumentException e) {
            return Mono.error(ValidationException.of("If-None-Match", "must be * or a list of quoted ETags"));
        }
        HttpHeaders headers = response.getHeaders();
        if (ifNoneMatch.contains(etag) || ifNoneMatch.contains("*")) {
            response.setStatusCode(HttpStatus.NOT_MODIFIED);
            headers.setETag(etag);
            return response.setComplete();
        }
        List<ResourceRegion> regions;
        try {
            regions = regions(request, file.size());
        } catch (ApiException e) {
            return Mono.error(e);
        }
        headers.setETag(etag);
        headers.set(HttpHeaders.ACCEPT_RANGES, "bytes");
        headers.setCacheControl(CacheControl.maxAge(Duration.ofHours(1)).cachePrivate());
        headers.set(HttpHeaders.CONTENT_DISPOSITION, "inline; filename=\"" + filename + "\"");
        if (local != null)
            return LOCAL_FILES.write(Mono.just(new FileSystemResource(local)), null, ResolvableType.forClass(Resource.class), type,
                    request, response, Hints.none());
        return fromStore(request, response, regions);
    }

    /** The answer from a bucket: the whole object, one ranged GET, or a ranged GET per part of a multipart answer. */
    private Mono<Void> fromStore(ServerHttpRequest request, ServerHttpResponse response, List<ResourceRegion> regions) {
        HttpHeaders headers = response.getHeaders();
        DataBufferFactory buffers = response.bufferFactory();
        long length = file.size();
        Flux<DataBuffer> body;
        if (regions.isEmpty()) {
            response.setStatusCode(HttpStatus.OK);
            headers.setContentType(type);
            headers.setContentLength(length);
            body = read(buffers, () -> files.open(file.key()));
        } else if (regions.size() == 1) {
            ResourceRegion r = regions.getFirst();
            response.setStatusCode(HttpStatus.PARTIAL_CONTENT);
            headers.setContentType(type);
            headers.set(HttpHeaders.CONTENT_RANGE, contentRange(r, length));
            headers.setContentLength(r.getCount());
            body = read(buffers, () -> files.open(file.key(), r.getPosition(), r.getCount()));
        } else {
            String boundary = MimeTypeUtils.generateMultipartBoundaryString();
            response.setStatusCode(HttpStatus.PARTIAL_CONTENT);
            headers.setContentType(MediaType.parseMediaType("multipart/byteranges; boundary=" + boundary));
            List<Flux<DataBuffer>> parts = new ArrayList<>();
            long total = 0;
            for (ResourceRegion r : regions) {
                byte[] head = ("\r\n--" + boundary + "\r\nContent-Type: " + type + "\r\nContent-Range: " + contentRange(r, length)
                        + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
                parts.add(Flux.concat(Mono.fromSupplier(() -> buffers.wrap(head)),
                        read(buffers, () -> files.open(file.key(), r.getPosition(), r.getCount()))));
                total += head.length + r.getCount();
            }
            byte[] end = ("\r\n--" + boundary + "--").getBytes(StandardCharsets.US_ASCII);
            parts.add(Flux.defer(() -> Flux.just(buffers.wrap(end))));
            headers.setContentLength(total + end.length);
            body = Flux.concat(parts);
        }
        if (HttpMethod.HEAD.equals(request.getMethod())) return response.setComplete();
        return response.writeWith(body);
    }

    private static String contentRange(ResourceRegion r, long length) {
        return "bytes " + r.getPosition() + "-" + (r.getPosition() + r.getCount() - 1) + "/" + length;
    }

    /** The stream's bytes, read (blocking) on the bounded elastic scheduler; closed when the client goes away. */
    private static Flux<DataBuffer> read(DataBufferFactory buffers, Callable<InputStream> open) {
        return DataBufferUtils.readInputStream(open, buffers, BUFFER_BYTES).subscribeOn(Schedulers.boundedElastic());
    }

    /**
     * The byte regions the Range header asks for, by Spring's own rules (those its resource writer applies to a local
     * file); none without a Range header. One that cannot be served is a 416 problem with
     * {@code Content-Range: bytes *}/length, not an empty answer.
     */
    static List<ResourceRegion> regions(ServerHttpRequest request, long length) {
        String header = request.getHeaders().getFirst(HttpHeaders.RANGE);
        if (header == null) return List.of();
        try {
            return HttpRange.toResourceRegions(request.getHeaders().getRange(), new SizedResource(length));
        } catch (IllegalArgumentException e) {
            throw new ApiException(HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "range-not-satisfiable",
                    "Range '" + FieldError.clip(ProblemWriter.clean(header), 80) + "' cannot be served from " + length
                            + " bytes; ask for bytes=first-last within them (at most 100 ranges)")
                    .header(HttpHeaders.CONTENT_RANGE, "bytes */" + length);
        }
    }

    /** Only a length: what {@link HttpRange#toResourceRegions} needs to work out regions of a file it cannot open. */
    private static final class SizedResource extends AbstractResource {
        private final long length;

        SizedResource(long length) { this.length = length; }

        @Override public long contentLength() { return length; }

        @Override public String getDescription() { return "a stored file of " + length + " bytes"; }

        @Override public InputStream getInputStream() { throw new UnsupportedOperationException("only its length is known"); }

        @Override public boolean equals(Object other) { return other == this; }

        @Override public int hashCode() { return System.identityHashCode(this); }
    }
}
