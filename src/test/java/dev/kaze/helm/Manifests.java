package dev.kaze.helm;

import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.BeanDeserializerBuilder;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The documents {@code helm template} printed, each read into its typed fabric8 model. Reading is strict: an
 * unknown field anywhere (a misspelt {@code securityContex}, a field at the wrong level) fails, because the
 * models' catch-all {@code additionalProperties} setters are switched off and FAIL_ON_UNKNOWN_PROPERTIES is on;
 * so is a kind this chart is not expected to render.
 *
 * <p>fabric8's models are Jackson 2 beans ({@code com.fasterxml}), hence this mapper rather than the project's
 * Jackson 3 one.
 */
record Manifests(List<Manifest> all) {

    /** One rendered document: its typed model and its JSON text (what a leak check searches). */
    record Manifest(HasMetadata resource, String text) {}

    private static final Map<String, Class<? extends HasMetadata>> KINDS = Map.of(
            "v1/Secret", Secret.class,
            "v1/Service", Service.class,
            "v1/ServiceAccount", ServiceAccount.class,
            "v1/PersistentVolumeClaim", PersistentVolumeClaim.class,
            "apps/v1/Deployment", Deployment.class,
            "autoscaling/v2/HorizontalPodAutoscaler", HorizontalPodAutoscaler.class,
            "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class,
            "batch/v1/Job", Job.class,
            "monitoring.coreos.com/v1/ServiceMonitor", ServiceMonitor.class);

    static final ObjectMapper STRICT = strictMapper();

    static Manifests parse(String yaml) {
        List<Manifest> out = new ArrayList<>();
        try (var docs = STRICT.readerFor(JsonNode.class).<JsonNode>readValues(yaml)) {
            while (docs.hasNext()) {
                JsonNode doc = docs.next();
                if (doc == null || doc.isNull() || doc.isMissingNode() || doc.isEmpty()) continue;
                String kind = doc.path("apiVersion").asText() + "/" + doc.path("kind").asText();
                Class<? extends HasMetadata> type = KINDS.get(kind);
                if (type == null) throw new IllegalArgumentException("the chart rendered an unexpected kind " + kind);
                out.add(new Manifest(STRICT.treeToValue(doc, type), doc.toString()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Manifests(List.copyOf(out));
    }

    <T extends HasMetadata> List<T> of(Class<T> type) {
        return all.stream().map(Manifest::resource).filter(type::isInstance).map(type::cast).toList();
    }

    /** The one object of this type whose name ends with the suffix ("-api", "-worker"). */
    <T extends HasMetadata> T one(Class<T> type, String nameSuffix) {
        List<T> found = of(type).stream().filter(r -> r.getMetadata().getName().endsWith(nameSuffix)).toList();
        if (found.size() != 1)
            throw new AssertionError("expected one " + type.getSimpleName() + " named *" + nameSuffix + ", found " + found.size());
        return found.getFirst();
    }

    private static ObjectMapper strictMapper() {
        SimpleModule noCatchAll = new SimpleModule("no-additional-properties");
        noCatchAll.setDeserializerModifier(new BeanDeserializerModifier() {
            @Override
            public BeanDeserializerBuilder updateBuilder(DeserializationConfig config, BeanDescription bean,
                                                         BeanDeserializerBuilder builder) {
                if (bean.getBeanClass().getPackageName().startsWith("io.fabric8")) builder.setAnySetter(null);
                return builder;
            }
        });
        return YAMLMapper.builder()
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .addModule(noCatchAll)
                .build();
    }
}
