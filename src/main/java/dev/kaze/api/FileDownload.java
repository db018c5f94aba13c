package dev.kaze.api;

import org.springframework.core.io.FileSystemResource;
import org.springframework.core.io.Resource;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpRange;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.server.ServerWebExchange;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A finished job's file as an HTTP answer: a strong ETag from the name, size and modification time,
 * 304 for a matching If-None-Match, byte ranges (Spring serves the regions; a Range that cannot be
 * served is a 416 problem with {@code Content-Range: bytes *}/length), private caching for an hour.
 *
 * @param tag      what the ETag names besides the file's size and time ({@code <id>-video})
 * @param filename the name offered in Content-Disposition
 */
record FileDownload(Path path, MediaType type, String tag, String filename) {

    ResponseEntity<Resource> answer(ServerWebExchange exchange) throws IOException {
        String etag = "\"" + tag + "-" + Files.size(path) + "-" + Files.getLastModifiedTime(path).toMillis() + "\"";
        List<String> ifNoneMatch;
        try {
            ifNoneMatch = exchange.getRequest().getHeaders().getIfNoneMatch();
        } catch (IllegalArgumentException e) {
            throw ValidationException.of("If-None-Match", "must be * or a list of quoted ETags");
        }
        if (ifNoneMatch.contains(etag) || ifNoneMatch.contains("*"))
            return ResponseEntity.status(HttpStatus.NOT_MODIFIED).eTag(etag).build();
        Resource resource = new FileSystemResource(path);
        checkRange(exchange, resource);
        return ResponseEntity.ok().contentType(type).eTag(etag)
                .header(HttpHeaders.ACCEPT_RANGES, "bytes")
                .cacheControl(CacheControl.maxAge(Duration.ofHours(1)).cachePrivate())
                .header(HttpHeaders.CONTENT_DISPOSITION, "inline; filename=\"" + filename + "\"")
                .body(resource);
    }

    /** A Range header that cannot be served is a 416 problem (with Content-Range: bytes *&#47;length), not an empty answer. */
    private static void checkRange(ServerWebExchange exchange, Resource resource) throws IOException {
        String header = exchange.getRequest().getHeaders().getFirst(HttpHeaders.RANGE);
        if (header == null) return;
        long length = resource.contentLength();
        try {
            List<HttpRange> ranges = exchange.getRequest().getHeaders().getRange();
            if (!ranges.isEmpty()) HttpRange.toResourceRegions(ranges, resource);
        } catch (IllegalArgumentException e) {
            throw new ApiException(HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "range-not-satisfiable",
                    "Range '" + FieldError.clip(ProblemWriter.clean(header), 80) + "' cannot be served from " + length
                            + " bytes; ask for bytes=first-last within them (at most 100 ranges)")
                    .header(HttpHeaders.CONTENT_RANGE, "bytes */" + length);
        }
    }
}
