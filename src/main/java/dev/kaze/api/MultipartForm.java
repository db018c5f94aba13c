package dev.kaze.api;

import org.springframework.core.ResolvableType;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.codec.multipart.FilePartEvent;
import org.springframework.http.codec.multipart.FormPartEvent;
import org.springframework.http.codec.multipart.PartEvent;
import org.springframework.http.codec.multipart.PartEventHttpMessageReader;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An upload as multipart/form-data, taken apart as it streams: each expected file part is written
 * to its file (never held in memory), the form fields are kept as text. Used by the LoRA and the
 * training uploads.
 */
final class MultipartForm {
    /** A file part to keep: its part name, the file it is written to, and what to answer when it comes twice. */
    record FilePart(String name, Path target, String sendOne) {}

    /**
     * How strict the form is.
     *
     * @param files      the file parts to keep
     * @param otherFiles null: other file parts are dropped and a repeated form field replaces the earlier one;
     *                   else other file parts are refused with this message and a repeated form field is refused
     */
    record Rules(List<FilePart> files, String otherFiles) {}

    /** What arrived: the client's file name of each file part kept (by part name) and the form fields. */
    record Received(Map<String, String> fileNames, Map<String, String> fields) {
        boolean hasFile(String name) { return fileNames.containsKey(name); }
    }

    private MultipartForm() {}

    /** Reads the whole form; a body over the upload's limit is a 413 naming the limit's property. */
    static Mono<Received> read(ServerWebExchange exchange, Rules rules, BodyLimitFilter.Upload limit) {
        Flux<PartEvent> parts = new PartEventHttpMessageReader().read(ResolvableType.forClass(PartEvent.class), exchange.getRequest(), Map.of());
        Map<String, String> fileNames = new LinkedHashMap<>();
        Map<String, String> fields = new LinkedHashMap<>();
        return parts.windowUntil(PartEvent::isLast).concatMap(part -> part.switchOnFirst((first, all) -> {
                    if (!first.hasValue()) return all.then();
                    PartEvent event = first.get();
                    String name = event.name();
                    FilePart kept = rules.files().stream().filter(f -> f.name().equals(name)).findFirst().orElse(null);
                    if (event instanceof FilePartEvent file && kept != null) {
                        if (fileNames.containsKey(name)) return drain(all, ValidationException.of(name, kept.sendOne()));
                        fileNames.put(name, file.filename());
                        return DataBufferUtils.write(all.map(PartEvent::content), kept.target());
                    }
                    if (event instanceof FormPartEvent form) {
                        if (fields.put(name, form.value()) != null && rules.otherFiles() != null)
                            return drain(all, ValidationException.of(name, "given more than once"));
                        return drain(all, null);
                    }
                    return drain(all, rules.otherFiles() == null ? null : ValidationException.of(name, rules.otherFiles()));
                }))
                .onErrorMap(DataBufferLimitException.class, e -> BodyLimitFilter.uploadTooLarge(limit))
                .then(Mono.fromSupplier(() -> new Received(fileNames, fields)));
    }

    /** Releases the rest of a part; then fails with the error, if any. */
    private static Mono<Void> drain(Flux<PartEvent> part, RuntimeException error) {
        Mono<Void> drained = part.map(PartEvent::content).doOnNext(DataBufferUtils::release).then();
        return error == null ? drained : drained.then(Mono.error(error));
    }
}
