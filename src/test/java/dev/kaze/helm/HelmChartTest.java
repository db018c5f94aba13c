package dev.kaze.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * helm/kaze linted and rendered by real Helm with the default values and with a GPU production values file
 * (src/test/resources/helm/gpu-values.yaml), the output read strictly into fabric8's typed models and checked.
 */
class HelmChartTest {
    static final String BUNDLE = "wan2.1-t2v-14b-fp8";
    /** Environment variables that carry a secret and must come from a Secret. */
    static final Pattern SECRET_ENV = Pattern.compile(
            "SPRING_DATASOURCE_(URL|USERNAME|PASSWORD)|KAZE_STORAGE_S3_(ACCESS|SECRET)KEY|KAZE_WEBHOOKS_SECRET"
                    + "|KAZE_AUTH_KEYS_\\d+_(KEY|SHA256)|HF_TOKEN");

    static Manifests defaults;
    static Manifests gpu;
    /** the GPU render with the hook objects (the models claim and pull Job) printed too */
    static Manifests gpuWithHooks;
    static JsonNode gpuValues;

    @BeforeAll
    static void render() throws IOException {
        defaults = Manifests.parse(KazeChart.template("default", null, Map.of()));
        gpu = Manifests.parse(KazeChart.template("gpu", KazeChart.VALUES.resolve("gpu-values.yaml"), Map.of()));
        gpuWithHooks = Manifests.parse(KazeChart.templateWithHooks("gpu", KazeChart.VALUES.resolve("gpu-values.yaml")));
        gpuValues = Manifests.STRICT.readTree(KazeChart.VALUES.resolve("gpu-values.yaml").toFile());
    }

    @Test
    void lintPassesStrictWithDefaultAndGpuValues() {
        for (String label : List.of("default", "gpu")) {
            LintResult result = KazeChart.lint(label, label.equals("gpu") ? KazeChart.VALUES.resolve("gpu-values.yaml") : null);
            assertThat(result.isFailed()).as("helm lint --strict (%s): %s", label, result.getMessages()).isFalse();
        }
    }

    @Test
    void defaultValuesRenderApiAndOneGpuWorkerOnThePreviewModel() {
        Deployment api = defaults.one(Deployment.class, "-api");
        Deployment worker = defaults.one(Deployment.class, "-worker");
        assertThat(api.getMetadata().getName()).isEqualTo("kz-kaze-api");
        assertThat(api.getSpec().getReplicas()).as("the HPA owns the API's replica count").isNull();
        assertThat(worker.getSpec().getReplicas()).isEqualTo(1);
        assertThat(gpuLimit(container(worker))).isEqualTo(new Quantity("1"));
        assertThat(env(container(worker))).doesNotContainKey("KAZE_MODELS_DIR");   // the preview model
        // no bundle: no models claim and no pull Job
        assertThat(defaults.of(Job.class)).isEmpty();
        assertThat(defaults.of(PersistentVolumeClaim.class)).isEmpty();
        // the database, bucket and webhook Secrets are the user's (default names): the chart creates none
        assertThat(defaults.of(Secret.class)).isEmpty();
        assertThat(secretRef(container(worker), "KAZE_WEBHOOKS_SECRET").getName()).isEqualTo("kaze-webhooks");
        assertThat(secretRef(container(api), "SPRING_DATASOURCE_URL").getName()).isEqualTo("kaze-database");
        assertThat(secretRef(container(api), "KAZE_STORAGE_S3_SECRETKEY").getName()).isEqualTo("kaze-s3");
        assertThat(defaults.of(ServiceMonitor.class)).isEmpty();
    }

    @Test
    void workersGetGpusNodeSelectionAndRuntimeClassTheApiNone() {
        Deployment worker = gpu.one(Deployment.class, "-worker");
        PodSpec pod = worker.getSpec().getTemplate().getSpec();
        assertThat(worker.getSpec().getReplicas()).isEqualTo(2);
        assertThat(gpuLimit(container(worker))).isEqualTo(new Quantity("1"));
        assertThat(pod.getRuntimeClassName()).isEqualTo("nvidia");
        assertThat(pod.getNodeSelector()).containsEntry("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3");
        assertThat(pod.getTolerations()).anySatisfy(t -> {
            assertThat(t.getKey()).isEqualTo("nvidia.com/gpu");
            assertThat(t.getEffect()).isEqualTo("NoSchedule");
        });
        assertThat(worker.getSpec().getStrategy().getRollingUpdate().getMaxSurge().getIntVal())
                .as("a rollout must not ask for a GPU beyond the workers'").isZero();
        Map<String, String> env = env(container(worker));
        assertThat(env).containsEntry("KAZE_ROLE", "worker").containsEntry("KAZE_DEVICE", "cuda")
                .containsEntry("KAZE_DEVICE_MEMORY_BUDGET", "80GiB").containsEntry("KAZE_MODELS_DIR", "/models/" + BUNDLE);

        for (Manifests m : List.of(defaults, gpu)) {
            Deployment api = m.one(Deployment.class, "-api");
            Container c = container(api);
            assertThat(c.getResources().getLimits()).doesNotContainKey("nvidia.com/gpu");
            assertThat(c.getResources().getRequests()).doesNotContainKey("nvidia.com/gpu");
            assertThat(api.getSpec().getTemplate().getSpec().getRuntimeClassName()).isNull();
            assertThat(api.getSpec().getTemplate().getSpec().getNodeSelector()).isNullOrEmpty();
            assertThat(env(c)).containsEntry("KAZE_ROLE", "api").containsEntry("KAZE_WORKER_ENABLED", "false");
        }
    }

    @Test
    void everyServingContainerHasStartupReadinessAndLivenessProbesOnTheActuator() {
        for (Manifests m : List.of(defaults, gpu)) {
            for (Deployment d : m.of(Deployment.class)) {
                assertThat(d.getSpec().getTemplate().getSpec().getContainers()).isNotEmpty().allSatisfy(c -> {
                    assertThat(path(c.getReadinessProbe())).isEqualTo("/actuator/health/readiness");
                    assertThat(path(c.getLivenessProbe())).isEqualTo("/actuator/health/liveness");
                    assertThat(path(c.getStartupProbe())).startsWith("/actuator/health/");
                    assertThat(c.getPorts()).anySatisfy(p -> {
                        assertThat(p.getName()).isEqualTo("http");
                        assertThat(p.getContainerPort()).isEqualTo(8080);
                    });
                });
            }
        }
        // the worker's model load: the startup probe waits on readiness and allows at least 20 minutes
        Probe startup = container(gpu.one(Deployment.class, "-worker")).getStartupProbe();
        assertThat(startup.getHttpGet().getPath()).isEqualTo("/actuator/health/readiness");
        assertThat(startup.getPeriodSeconds() * startup.getFailureThreshold()).isGreaterThanOrEqualTo(20 * 60);
    }

    @Test
    void secretsAreReferencedNeverInlined() {
        List<String> secretInputs = new ArrayList<>();
        for (String p : List.of("/database/url", "/database/username", "/database/password", "/storage/s3/accessKey",
                "/storage/s3/secretKey", "/webhooks/secret", "/auth/keys/0/sha256", "/auth/keys/1/key"))
            secretInputs.add(Objects.requireNonNull(gpuValues.at(p).textValue(), p));

        // the Secrets hold them...
        List<String> inSecrets = gpu.of(Secret.class).stream()
                .flatMap(s -> s.getData().values().stream()).map(HelmChartTest::decode).toList();
        assertThat(inSecrets).containsAll(secretInputs);
        // ...and no other manifest shows them, plain or base64
        for (Manifests.Manifest m : gpuWithHooks.all()) {
            if (m.resource() instanceof Secret) continue;
            for (String secret : secretInputs)
                assertThat(m.text()).as("%s %s", m.resource().getKind(), m.resource().getMetadata().getName())
                        .doesNotContain(secret).doesNotContain(Base64.getEncoder().encodeToString(secret.getBytes(StandardCharsets.UTF_8)));
        }

        // every secret variable comes through secretKeyRef, naming a rendered Secret and one of its keys
        Map<String, Secret> secrets = new HashMap<>();
        gpu.of(Secret.class).forEach(s -> secrets.put(s.getMetadata().getName(), s));
        List<String> seen = new ArrayList<>();
        for (Container c : containers(gpuWithHooks)) {
            for (EnvVar e : c.getEnv()) {
                if (!SECRET_ENV.matcher(e.getName()).matches()) continue;
                seen.add(e.getName());
                assertThat(e.getValue()).as(e.getName()).isNull();
                SecretKeySelector ref = e.getValueFrom().getSecretKeyRef();
                assertThat(secrets).as(e.getName()).containsKey(ref.getName());
                assertThat(secrets.get(ref.getName()).getData()).as(e.getName()).containsKey(ref.getKey());
            }
        }
        assertThat(seen).contains("SPRING_DATASOURCE_URL", "SPRING_DATASOURCE_USERNAME", "SPRING_DATASOURCE_PASSWORD",
                "KAZE_STORAGE_S3_ACCESSKEY", "KAZE_STORAGE_S3_SECRETKEY", "KAZE_WEBHOOKS_SECRET",
                "KAZE_AUTH_KEYS_0_SHA256", "KAZE_AUTH_KEYS_1_KEY");
        // the keys: ids in plain env, each key's secret resolved to the value given for it
        Container api = container(gpu.one(Deployment.class, "-api"));
        assertThat(env(api)).containsEntry("KAZE_AUTH_KEYS_0_ID", "alice").containsEntry("KAZE_AUTH_KEYS_1_ID", "bob")
                .containsEntry("KAZE_AUTH_KEYS_0_MAX_QUEUED", "20").containsEntry("KAZE_STORAGE_S3_PATHSTYLE", "true")
                .containsEntry("KAZE_STORAGE_S3_ENDPOINT", "http://minio.storage.svc:9000");
        SecretKeySelector bob = secretRef(api, "KAZE_AUTH_KEYS_1_KEY");
        assertThat(decode(secrets.get(bob.getName()).getData().get(bob.getKey()))).isEqualTo("kz-bob-key-Hs5Jd3Lf8");
    }

    @Test
    void apiKeysFromAnExistingSecretAreReferencedByEntry() {
        Manifests m = Manifests.parse(KazeChart.template("existing-secrets", KazeChart.VALUES.resolve("existing-secrets-values.yaml"), Map.of()));
        assertThat(m.of(Secret.class)).isEmpty();
        Container api = container(m.one(Deployment.class, "-api"));
        assertThat(env(api)).containsEntry("KAZE_AUTH_KEYS_0_ID", "carol").containsEntry("KAZE_AUTH_KEYS_1_ID", "dave")
                .doesNotContainKeys("KAZE_AUTH_KEYS_0_SHA256", "KAZE_AUTH_KEYS_1_KEY");
        SecretKeySelector carol = secretRef(api, "KAZE_AUTH_KEYS_0_SHA256");
        assertThat(carol.getName()).isEqualTo("team-api-keys");
        assertThat(carol.getKey()).isEqualTo("carol-sha256");
        SecretKeySelector dave = secretRef(api, "KAZE_AUTH_KEYS_1_KEY");   // hashed: false, entry named by the id
        assertThat(dave.getName()).isEqualTo("team-api-keys");
        assertThat(dave.getKey()).isEqualTo("dave");
        assertThat(api.getEnv()).noneMatch(e -> e.getName().equals("KAZE_AUTH_KEYS_0_KEY") || e.getName().equals("KAZE_AUTH_KEYS_1_SHA256"));
    }

    @Test
    void everyPodRunsNonRootOnAReadOnlyRootWithWritableScratchDirectories() {
        for (Manifests m : List.of(defaults, gpuWithHooks)) {
            List<PodSpec> pods = new ArrayList<>();
            m.of(Deployment.class).forEach(d -> pods.add(d.getSpec().getTemplate().getSpec()));
            m.of(Job.class).forEach(j -> pods.add(j.getSpec().getTemplate().getSpec()));
            assertThat(pods).hasSizeGreaterThanOrEqualTo(2);
            for (PodSpec pod : pods) {
                PodSecurityContext podContext = pod.getSecurityContext();
                assertThat(podContext.getRunAsNonRoot()).isTrue();
                assertThat(podContext.getRunAsUser()).isPositive();
                assertThat(podContext.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
                assertThat(pod.getAutomountServiceAccountToken()).isFalse();
                for (Container c : pod.getContainers()) {
                    SecurityContext sc = c.getSecurityContext();
                    assertThat(sc.getRunAsNonRoot()).isTrue();
                    assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
                    assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
                    assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
                    assertThat(sc.getCapabilities().getAdd()).isNullOrEmpty();
                    assertThat(sc.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
                    assertThat(sc.getPrivileged()).isNotEqualTo(Boolean.TRUE);
                    // /tmp and the JavaCPP cache live on emptyDirs, and the JVM is told so
                    assertThat(emptyDirAt(pod, c, "/tmp")).as("/tmp on an emptyDir").isTrue();
                    assertThat(emptyDirAt(pod, c, "/cache")).as("/cache on an emptyDir").isTrue();
                    assertThat(env(c).get("JAVA_TOOL_OPTIONS"))
                            .contains("-Djava.io.tmpdir=/tmp", "-Dorg.bytedeco.javacpp.cachedir=/cache/javacpp");
                }
            }
        }
    }

    @Test
    void theModelsPullJobRunsAsAHookBeforeTheWorkersOnTheirClaim() {
        // Helm takes the claim and the Job for hooks: they are not among the release's ordinary objects...
        assertThat(gpu.of(Job.class)).isEmpty();
        assertThat(gpu.of(PersistentVolumeClaim.class)).isEmpty();
        // ...so they are read from a render that prints hooks too (see KazeChart.templateWithHooks)
        Manifests withHooks = gpuWithHooks;
        Job pull = withHooks.one(Job.class, "-models-pull");
        Map<String, String> annotations = pull.getMetadata().getAnnotations();
        assertThat(annotations.get(KazeChart.HOOK).split(",")).containsExactlyInAnyOrder("pre-install", "pre-upgrade");
        int jobWeight = Integer.parseInt(annotations.get("helm.sh/hook-weight"));
        assertThat(annotations.get("helm.sh/hook-delete-policy")).contains("before-hook-creation");

        Container c = pull.getSpec().getTemplate().getSpec().getContainers().getFirst();
        assertThat(c.getArgs()).containsExactly("models", "pull", BUNDLE, "--root", "/models");
        assertThat(c.getImage()).isEqualTo(container(gpu.one(Deployment.class, "-worker")).getImage());
        assertThat(pull.getSpec().getTemplate().getSpec().getRestartPolicy()).isEqualTo("Never");

        // the claim is a hook created before the Job (lower weight) and kept past the release
        PersistentVolumeClaim claim = withHooks.one(PersistentVolumeClaim.class, "-models");
        Map<String, String> claimAnnotations = claim.getMetadata().getAnnotations();
        assertThat(claimAnnotations.get(KazeChart.HOOK)).isEqualTo("pre-install");
        assertThat(Integer.parseInt(claimAnnotations.get("helm.sh/hook-weight"))).isLessThan(jobWeight);
        assertThat(claimAnnotations).containsEntry("helm.sh/resource-policy", "keep");
        assertThat(claim.getSpec().getResources().getRequests().get("storage")).isEqualTo(new Quantity("120Gi"));
        assertThat(claim.getSpec().getStorageClassName()).isEqualTo("fast-rwx");

        // the Deployments are ordinary release objects, which Helm applies after the pre-install/upgrade hooks
        assertThat(withHooks.of(Deployment.class)).hasSize(2).allSatisfy(d -> assertThat(
                d.getMetadata().getAnnotations() == null ? Map.of() : d.getMetadata().getAnnotations()).doesNotContainKey(KazeChart.HOOK));
        String claimName = claim.getMetadata().getName();
        assertThat(claimOf(pull.getSpec().getTemplate().getSpec(), "/models", c)).isEqualTo(claimName);
        PodSpec workerPod = withHooks.one(Deployment.class, "-worker").getSpec().getTemplate().getSpec();
        assertThat(claimOf(workerPod, "/models", workerPod.getContainers().getFirst())).isEqualTo(claimName);
        assertThat(workerPod.getContainers().getFirst().getVolumeMounts())
                .filteredOn(v -> v.getMountPath().equals("/models")).singleElement()
                .extracting(VolumeMount::getReadOnly).isEqualTo(true);
        // the API reads the same bundle, read-only, for the model id, the recipe's default LoRAs and the DiT shapes
        PodSpec apiPod = withHooks.one(Deployment.class, "-api").getSpec().getTemplate().getSpec();
        Container api = apiPod.getContainers().getFirst();
        assertThat(claimOf(apiPod, "/models", api)).isEqualTo(claimName);
        assertThat(api.getVolumeMounts()).filteredOn(v -> v.getMountPath().equals("/models")).singleElement()
                .extracting(VolumeMount::getReadOnly).isEqualTo(true);
        assertThat(env(api)).containsEntry("KAZE_MODELS_DIR", "/models/" + BUNDLE).containsEntry("KAZE_MODELS_LORAS", "/models/loras");
        assertThat(env(api)).doesNotContainKey("KAZE_DEVICE");
    }

    @Test
    void servicesAutoscalerDisruptionBudgetsAndServiceMonitorSelectTheRightPods() {
        Deployment api = gpu.one(Deployment.class, "-api");
        Deployment worker = gpu.one(Deployment.class, "-worker");
        Map<String, String> apiLabels = api.getSpec().getTemplate().getMetadata().getLabels();
        Map<String, String> workerLabels = worker.getSpec().getTemplate().getMetadata().getLabels();

        Service apiService = gpu.one(Service.class, "-api");
        assertThat(apiLabels).containsAllEntriesOf(apiService.getSpec().getSelector());
        assertThat(workerLabels).doesNotContainEntry("app.kubernetes.io/component", "api");
        assertThat(apiService.getSpec().getPorts().getFirst().getTargetPort().getStrVal()).isEqualTo("http");
        assertThat(workerLabels).containsAllEntriesOf(gpu.one(Service.class, "-worker").getSpec().getSelector());

        HorizontalPodAutoscaler hpa = gpu.one(HorizontalPodAutoscaler.class, "-api");
        assertThat(hpa.getSpec().getScaleTargetRef().getName()).isEqualTo(api.getMetadata().getName());
        assertThat(hpa.getSpec().getMinReplicas()).isEqualTo(3);
        assertThat(hpa.getSpec().getMaxReplicas()).isEqualTo(8);

        assertThat(apiLabels).containsAllEntriesOf(gpu.one(PodDisruptionBudget.class, "-api").getSpec().getSelector().getMatchLabels());
        assertThat(workerLabels).containsAllEntriesOf(gpu.one(PodDisruptionBudget.class, "-worker").getSpec().getSelector().getMatchLabels());

        ServiceMonitor monitor = gpu.of(ServiceMonitor.class).getFirst();
        assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "prometheus");
        assertThat(monitor.getSpec().getEndpoints()).singleElement().satisfies(e -> {
            assertThat(e.getPath()).isEqualTo("/actuator/prometheus");
            assertThat(e.getPort()).isEqualTo("http");
        });
        Map<String, String> selected = monitor.getSpec().getSelector().getMatchLabels();
        assertThat(apiService.getMetadata().getLabels()).containsAllEntriesOf(selected);
        assertThat(gpu.one(Service.class, "-worker").getMetadata().getLabels()).containsAllEntriesOf(selected);
    }

    @Test
    void theSchemaRefusesANegativeReplicaCountAndAWrongType() {
        assertThatThrownBy(() -> KazeChart.template("bad-replicas", KazeChart.VALUES.resolve("bad-replicas-values.yaml"), Map.of()))
                .hasMessageContaining("values don't meet the specifications of the schema").hasMessageContaining("replicas");
        assertThatThrownBy(() -> KazeChart.template("bad-type", KazeChart.VALUES.resolve("bad-type-values.yaml"), Map.of()))
                .hasMessageContaining("values don't meet the specifications of the schema").hasMessageContaining("port");
        assertThatThrownBy(() -> KazeChart.template("bad-gpus", null, Map.of("worker.gpus", "-2")))
                .hasMessageContaining("gpus");

        LintResult lint = KazeChart.lint("bad-replicas", KazeChart.VALUES.resolve("bad-replicas-values.yaml"));
        assertThat(lint.isFailed()).isTrue();
        assertThat(String.join("\n", lint.getMessages())).contains("replicas");
    }

    @Test
    void aMissingDatabaseIsRefusedWithWhatToSet() {
        assertThatThrownBy(() -> KazeChart.template("no-database", null, Map.of("database.existingSecret", "")))
                .hasMessageContaining("database.existingSecret").hasMessageContaining("database.url");
    }

    @Test
    void theStrictReaderRefusesAnUnknownField() {
        String typo = """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: x}
                spec:
                  template:
                    spec:
                      containers:
                        - name: kaze
                          securityContex: {runAsNonRoot: true}
                """;
        assertThatThrownBy(() -> Manifests.parse(typo)).hasMessageContaining("securityContex");
        assertThatThrownBy(() -> Manifests.parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
                .hasMessageContaining("v1/ConfigMap");
    }

    // --- reading the models ---

    static Container container(Deployment d) {
        return d.getSpec().getTemplate().getSpec().getContainers().getFirst();
    }

    static List<Container> containers(Manifests m) {
        List<Container> out = new ArrayList<>();
        m.of(Deployment.class).forEach(d -> out.addAll(d.getSpec().getTemplate().getSpec().getContainers()));
        m.of(Job.class).forEach(j -> out.addAll(j.getSpec().getTemplate().getSpec().getContainers()));
        return out;
    }

    /** The plain-valued environment of a container (secretKeyRef variables left out). */
    static Map<String, String> env(Container c) {
        Map<String, String> out = new LinkedHashMap<>();
        for (EnvVar e : c.getEnv()) if (e.getValue() != null) out.put(e.getName(), e.getValue());
        return out;
    }

    static SecretKeySelector secretRef(Container c, String name) {
        return c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(name + " not set")).getValueFrom().getSecretKeyRef();
    }

    static Quantity gpuLimit(Container c) {
        return c.getResources().getLimits().get("nvidia.com/gpu");
    }

    static String path(Probe probe) {
        assertThat(probe).isNotNull();
        return probe.getHttpGet().getPath();
    }

    static String decode(String base64) {
        return new String(Base64.getDecoder().decode(base64), StandardCharsets.UTF_8);
    }

    static Volume volumeAt(PodSpec pod, Container c, String mountPath) {
        String name = c.getVolumeMounts().stream().filter(v -> v.getMountPath().equals(mountPath)).findFirst()
                .orElseThrow(() -> new AssertionError("nothing mounted at " + mountPath + " in " + c.getName())).getName();
        return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst().orElseThrow();
    }

    static boolean emptyDirAt(PodSpec pod, Container c, String mountPath) {
        return volumeAt(pod, c, mountPath).getEmptyDir() != null;
    }

    static String claimOf(PodSpec pod, String mountPath, Container c) {
        return volumeAt(pod, c, mountPath).getPersistentVolumeClaim().getClaimName();
    }
}
