package dev.kaze;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.core.importer.Locations;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import dev.kaze.api.VideoController;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.stereotype.Component;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Keeps the dependency direction of ARCHITECTURE.md, {@code api → jobs → {models, storage, pipeline,
 * training, video} → tensor}, over the compiled classes: a dependency counts however the source
 * spells it (import, inline qualified name, annotation, signature). Everything below {@code jobs} is
 * plain Java; {@code config} wires {@code api}, never the other way; {@code dev.kaze.json} is a leaf
 * every layer may use. Rules name packages that do not exist yet (models, storage) and hold once
 * they appear. Limit of any bytecode check: a compile-time constant ({@code static final} String or
 * primitive) is copied into the caller and leaves no dependency behind.
 */
class StructureTest {
    static final String KAZE = "dev.kaze..";
    static final String ROOT = "dev.kaze";
    static final String API = "dev.kaze.api..";
    static final String CONFIG = "dev.kaze.config..";
    static final String JOBS = "dev.kaze.jobs..";
    static final String MODELS = "dev.kaze.models..";
    static final String STORAGE = "dev.kaze.storage..";
    static final String PIPELINE = "dev.kaze.pipeline..";
    static final String TRAINING = "dev.kaze.training..";
    static final String VIDEO = "dev.kaze.video..";
    static final String TENSOR = "dev.kaze.tensor..";
    static final String JSON = "dev.kaze.json..";

    /** The layers below jobs: plain Java, constructed in config. */
    static final String PROMPTS = "dev.kaze.prompts..";
    static final String[] BELOW_JOBS = {MODELS, STORAGE, PIPELINE, TRAINING, VIDEO, TENSOR, JSON, PROMPTS};

    static final ArchRule TENSOR_IS_THE_BOTTOM = noClasses().that().resideInAPackage(TENSOR)
            .should().dependOnClassesThat(kazeOutside(TENSOR, JSON))
            .because("tensor is the bottom layer: it may use dev.kaze.json and nothing else of Kaze")
            .allowEmptyShould(true);

    static final ArchRule JSON_IS_A_LEAF = noClasses().that().resideInAPackage(JSON)
            .should().dependOnClassesThat(kazeOutside(JSON))
            .because("dev.kaze.json holds the one mapper every layer uses, so it depends on no other Kaze package")
            .allowEmptyShould(true);

    static final ArchRule BELOW_JOBS_DOES_NOT_REACH_UP = noClasses().that().resideInAnyPackage(BELOW_JOBS)
            .should().dependOnClassesThat().resideInAnyPackage(JOBS, API, CONFIG, ROOT)
            .because("models, storage, pipeline, training, video, tensor and json sit below jobs")
            .allowEmptyShould(true);

    static final ArchRule PIPELINE_DOES_NOT_DEPEND_ON_TRAINING = noClasses().that().resideInAPackage(PIPELINE)
            .should().dependOnClassesThat().resideInAPackage(TRAINING)
            .because("training builds on the pipeline, not the other way")
            .allowEmptyShould(true);

    static final ArchRule VIDEO_DEPENDS_ON_NO_SIBLING = noClasses().that().resideInAPackage(VIDEO)
            .should().dependOnClassesThat().resideInAnyPackage(PIPELINE, TRAINING, MODELS, STORAGE)
            .because("pipeline and training write through video, not the other way")
            .allowEmptyShould(true);

    static final ArchRule JOBS_DOES_NOT_REACH_UP = noClasses().that().resideInAPackage(JOBS)
            .should().dependOnClassesThat().resideInAnyPackage(API, CONFIG, ROOT)
            .because("jobs sits below api, and config wires it")
            .allowEmptyShould(true);

    static final ArchRule API_DOES_NOT_DEPEND_ON_CONFIG = noClasses().that().resideInAPackage(API)
            .should().dependOnClassesThat().resideInAnyPackage(CONFIG, ROOT)
            .because("config wires api, never the other way")
            .allowEmptyShould(true);

    static final ArchRule NO_SPRING_BELOW_JOBS = noClasses().that().resideInAnyPackage(BELOW_JOBS)
            .should().dependOnClassesThat().resideInAPackage("org.springframework..")
            .because("everything below jobs is plain Java, testable without a Spring context")
            .allowEmptyShould(true);

    static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        main = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(ROOT);
        assertThat(main.containPackage("dev.kaze.tensor")).as("main classes imported").isTrue();
    }

    /** Kaze classes outside the given packages. */
    static DescribedPredicate<JavaClass> kazeOutside(String... allowed) {
        return resideInAPackage(KAZE).and(DescribedPredicate.not(resideInAnyPackage(allowed)))
                .as("Kaze classes outside " + String.join(", ", allowed));
    }

    @Test
    void tensorIsTheBottom() {
        TENSOR_IS_THE_BOTTOM.check(main);
    }

    @Test
    void jsonIsALeaf() {
        JSON_IS_A_LEAF.check(main);
    }

    @Test
    void belowJobsDoesNotReachUp() {
        BELOW_JOBS_DOES_NOT_REACH_UP.check(main);
    }

    @Test
    void pipelineDoesNotDependOnTraining() {
        PIPELINE_DOES_NOT_DEPEND_ON_TRAINING.check(main);
    }

    @Test
    void videoDependsOnNoSibling() {
        VIDEO_DEPENDS_ON_NO_SIBLING.check(main);
    }

    @Test
    void jobsDoesNotReachUp() {
        JOBS_DOES_NOT_REACH_UP.check(main);
    }

    @Test
    void apiDoesNotDependOnConfig() {
        API_DOES_NOT_DEPEND_ON_CONFIG.check(main);
    }

    @Test
    void noSpringBelowJobs() {
        NO_SPRING_BELOW_JOBS.check(main);
    }

    @Test
    void catchesAnInlineQualifiedNameReachingUp(@TempDir Path dir) throws IOException {
        String api = VideoController.class.getName();
        JavaClasses classes = compile(dir, "dev.kaze.tensor", "Reach", """
                package dev.kaze.tensor;

                final class Reach {
                    static String reach(%s controller) {
                        return controller.toString();
                    }
                }
                """.formatted(api), VideoController.class);

        assertViolation(TENSOR_IS_THE_BOTTOM, classes, "dev.kaze.tensor.Reach", api);
        assertViolation(BELOW_JOBS_DOES_NOT_REACH_UP, classes, "dev.kaze.tensor.Reach", api);
    }

    @Test
    void catchesAnInlineQualifiedSpringAnnotationBelowJobs(@TempDir Path dir) throws IOException {
        String component = Component.class.getName();
        JavaClasses classes = compile(dir, "dev.kaze.pipeline", "Bean", """
                package dev.kaze.pipeline;

                @%s
                final class Bean {
                }
                """.formatted(component), Component.class);

        assertViolation(NO_SPRING_BELOW_JOBS, classes, "dev.kaze.pipeline.Bean", component);
    }

    static void assertViolation(ArchRule rule, JavaClasses classes, String origin, String target) {
        EvaluationResult result = rule.evaluate(classes);
        assertThat(result.hasViolation()).as(rule.getDescription()).isTrue();
        assertThat(result.getFailureReport().getDetails())
                .anySatisfy(line -> assertThat(line).contains(origin).contains(target));
    }

    /**
     * Compiles one source file against the test class path and imports it with ArchUnit together
     * with the real classes it refers to.
     */
    static JavaClasses compile(Path dir, String pkg, String name, String source, Class<?>... alongside)
            throws IOException {
        Path src = dir.resolve("src").resolve(pkg.replace('.', '/')).resolve(name + ".java");
        Path out = Files.createDirectories(dir.resolve("classes"));
        Files.createDirectories(src.getParent());
        Files.writeString(src, source);
        assertThat(source).doesNotContain("import ");

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, diagnostics, diagnostics, "-proc:none",
                "-classpath", System.getProperty("java.class.path"), "-d", out.toString(), src.toString());
        assertThat(rc).as(diagnostics.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(out.resolve(pkg.replace('.', '/')).resolve(name + ".class")).exists();

        Set<Location> locations = new HashSet<>();
        locations.add(Location.of(out));
        for (Class<?> c : alongside) locations.addAll(Locations.ofClass(c));
        return new ClassFileImporter().importLocations(locations);
    }
}
