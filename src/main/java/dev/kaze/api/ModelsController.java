package dev.kaze.api;

import dev.kaze.jobs.DeviceWorker;
import dev.kaze.jobs.ModelInfo;
import dev.kaze.json.Json;
import dev.kaze.models.Bundle;
import dev.kaze.models.BundleStatus;
import dev.kaze.models.Catalog;
import dev.kaze.models.ModelPulls;
import dev.kaze.models.PullEvent;
import dev.kaze.models.PullException;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.Recipe;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Set;

/**
 * The models API: what is installed and what the recipe still lacks ({@code GET /v1/models}), pulling a
 * bundle in the background ({@code POST /v1/models/{bundle}/pull}, admin only where keys are configured),
 * and a pull's state and progress ({@code GET /v1/models/pulls/{id}}, {@code …/events} over SSE).
 */
@RestController
@RequestMapping(ModelsController.PATH)
public class ModelsController {
    public static final String PATH = "/v1/models";
    private static final Set<String> RECIPE_LORAS = Set.of(Recipe.STYLE_LORA, Recipe.DISTILL_LORA);

    private final ModelPulls pulls;
    private final ModelInfo model;
    private final DeviceWorker worker;

    public ModelsController(ModelPulls pulls, ModelInfo model, DeviceWorker worker) {
        this.pulls = pulls;
        this.model = model;
        this.worker = worker;
    }

    @GetMapping
    public Mono<ObjectNode> list(ServerWebExchange exchange) {
        Caller.of(exchange);
        return Requests.blocking(() -> {
            ObjectNode body = Json.MAPPER.createObjectNode();
            body.put("object", "list");
            ArrayNode data = body.putArray("data");
            List<String> defaults = model.defaultLoras().stream().map(GenerateRequest.LoraRef::name).toList();
            for (Bundle b : Catalog.bundles()) {
                BundleStatus s = BundleStatus.of(b, pulls.paths());
                boolean lora = b.kind() == Bundle.Kind.LORA;
                boolean active = lora ? defaults.contains(b.name()) : pulls.serves(b);
                data.add(ModelObject.bundle(s, lora ? "lora" : "model", active, !lora || RECIPE_LORAS.contains(b.name()),
                        pulls.running(b.name()).orElse(null)));
            }
            ObjectNode active = body.putObject("active_model");
            active.put("id", model.id());
            active.put("preview", model.preview());
            active.put("directory", pulls.served() == null ? null : pulls.served().toString());
            active.put("lora_directory", pulls.paths().loras().toString());
            active.put("ready", worker.ready());
            active.put("load_error", worker.ready() ? null : worker.loadError());
            ArrayNode loras = active.putArray("default_loras");
            for (GenerateRequest.LoraRef l : model.defaultLoras()) loras.addObject().put("name", l.name()).put("strength", l.strength());
            return body;
        });
    }

    /** Starts pulling a bundle (202), or answers the pull of it already running (200). */
    @PostMapping("/{bundle}/pull")
    public ResponseEntity<ObjectNode> pull(@PathVariable String bundle, ServerWebExchange exchange) {
        Caller.of(exchange);
        ApiKeyFilter.requireAdmin(exchange, "pulling a model");
        Bundle b = Catalog.find(bundle).orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND, "not-found",
                "no bundle named '" + FieldError.clip(bundle, 80) + "'; known: "
                        + String.join(", ", Catalog.bundles().stream().map(Bundle::name).toList())));
        ModelPulls.Started started = pulls.start(b);
        return ResponseEntity.status(started.started() ? HttpStatus.ACCEPTED : HttpStatus.OK)
                .header(HttpHeaders.LOCATION, PATH + "/pulls/" + started.pull().id()).body(ModelObject.pull(started.pull()));
    }

    @GetMapping("/pulls/{id}")
    public ObjectNode get(@PathVariable String id, ServerWebExchange exchange) {
        Caller.of(exchange);
        return ModelObject.pull(find(id));
    }

    /**
     * The pull's events over SSE: what happened so far (each file's latest progress), then each new
     * one, ending with {@code done} or {@code problem}.
     */
    @GetMapping(path = "/pulls/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<String>> events(@PathVariable String id, ServerWebExchange exchange) {
        Caller.of(exchange);
        ModelPulls.Pull pull = find(id);
        return Flux.create(sink -> {
            Runnable stop = pull.subscribe(new ModelPulls.Pull.Subscriber() {
                private ObjectNode done;

                @Override public void event(PullEvent e) {
                    if (e instanceof PullEvent.BundleDone) done = ModelObject.event(pull, e);   // sent once the pull has ended
                    else sink.next(frame(ModelObject.type(e), ModelObject.event(pull, e)));
                }

                @Override public void end(PullException error) {
                    if (error != null) sink.next(frame("problem", ModelObject.problem(pull, error)));
                    else if (done != null) sink.next(frame("done", done));
                    sink.complete();
                }
            });
            sink.onDispose(stop::run);
        }, FluxSink.OverflowStrategy.BUFFER);
    }

    private static ServerSentEvent<String> frame(String type, ObjectNode data) {
        return ServerSentEvent.builder(data.toString()).event(type).build();
    }

    private ModelPulls.Pull find(String id) {
        return pulls.get(id).orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND, "not-found",
                "no model pull '" + FieldError.clip(id, 80) + "' (pulls are kept until the server restarts)"));
    }
}
