package dev.kaze.studio;

import dev.kaze.jobs.JobEventType;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.Recipe;
import dev.kaze.training.LoraNetwork;
import dev.kaze.training.TestDatasets;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The studio page at {@code /} driven in Debian's headless chromium against the real server on the
 * preview model: recipe defaults shown, a video made and watched step by step and played, a queued
 * job cancelled, a LoRA uploaded, used and deleted, a tiny training with its loss chart; no error in
 * the browser console, screenshots under target/screenshots/. Skipped without chromium and
 * chromedriver unless {@code KAZE_REQUIRE_BROWSER=1} (CI), where their absence fails.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:studio;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=" + StudioBrowserTest.DATA,
        "kaze.models.loras=" + StudioBrowserTest.DATA + "/loras",
        "kaze.training.datasets-root=" + StudioBrowserTest.DATA + "/datasets",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=" + StudioBrowserTest.KEY,
})
class StudioBrowserTest {
    static final String DATA = "target/test-data/studio";
    static final String KEY = "studio-key";
    static final Path CHROMIUM = Path.of("/usr/bin/chromium"), CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Path SCREENSHOTS = Path.of("target/screenshots");
    static final Duration RENDER = Duration.ofSeconds(180);

    static ChromeDriver driver;
    static Path profile;

    @LocalServerPort int port;

    @BeforeAll
    static void browser() throws IOException {
        boolean present = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
        if (!present) {
            if ("1".equals(System.getenv("KAZE_REQUIRE_BROWSER")))
                fail("KAZE_REQUIRE_BROWSER=1 but " + CHROMIUM + " or " + CHROMEDRIVER + " is missing: apt-get install chromium chromium-driver");
            Assumptions.abort("no chromium/chromedriver (apt-get install chromium chromium-driver); set KAZE_REQUIRE_BROWSER=1 to fail instead");
        }
        Path data = Path.of(DATA);
        if (Files.exists(data)) try (Stream<Path> s = Files.walk(data)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
        Files.createDirectories(data.resolve("datasets"));
        Files.createDirectories(SCREENSHOTS);
        profile = Files.createTempDirectory("kaze-chromium");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile, "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required");
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
    }

    @AfterAll
    static void close() throws IOException {
        if (driver != null) driver.quit();
        if (profile != null) try (Stream<Path> s = Files.walk(profile)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) p.toFile().delete();
        }
    }

    String base() { return "http://localhost:" + port; }

    @BeforeEach
    void open() {
        driver.manage().window().setSize(new Dimension(1280, 1000));
        // the key in localStorage before the page's first API call (without it this server answers 401)
        driver.get(base() + "/studio.css");
        js("localStorage.clear(); localStorage.setItem('kaze.apiKey', arguments[0])", KEY);
        driver.get(base() + "/");
        waitUntil("the page has loaded its data with the key", () -> "true".equals(js("return document.body.dataset.ready")));
    }

    @AfterEach
    void noConsoleErrorsAndScreenshot(TestInfo info) throws IOException {
        screenshot(info.getTestMethod().orElseThrow().getName());
        assertThat(severeLogs()).as("browser console errors").isEmpty();
    }

    /** The console's SEVERE entries since the last call (reading them clears them). */
    static List<String> severeLogs() {
        return driver.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue()).map(LogEntry::getMessage).toList();
    }

    void screenshot(String name) throws IOException {
        Files.copy(driver.getScreenshotAs(OutputType.FILE).toPath(), SCREENSHOTS.resolve("studio-" + name + ".png"),
                StandardCopyOption.REPLACE_EXISTING);
    }

    Object js(String script, Object... args) { return ((JavascriptExecutor) driver).executeScript(script, args); }

    WebElement byId(String id) { return driver.findElement(By.id(id)); }

    void waitUntil(String what, BooleanSupplier condition) { waitUntil(what, Duration.ofSeconds(30), condition); }

    void waitUntil(String what, Duration timeout, BooleanSupplier condition) {
        new WebDriverWait(driver, timeout, Duration.ofMillis(50)).withMessage(what).until(d -> condition.getAsBoolean());
    }

    void set(String id, Object value) {
        WebElement e = byId(id);
        e.clear();
        e.sendKeys(String.valueOf(value));
    }

    /** Fills the Make form with a tiny render and submits it; returns the new video's id. */
    String make(String prompt, int side, int frames, int steps) {
        String before = byId("job-id").getText();
        set("prompt", prompt);
        set("width", side);
        set("height", side);
        set("frames", frames);
        set("steps", steps);
        byId("submit").click();
        waitUntil("the submitted video is selected", () -> {
            String id = byId("job-id").getText();
            return id.startsWith("video_") && !id.equals(before);
        });
        return byId("job-id").getText();
    }

    String jobStatus(String id) {
        return (String) js("const li = document.querySelector(`#jobs li[data-id='${arguments[0]}']`); return li ? li.dataset.status : null;", id);
    }

    @Test
    void servesThePageWithoutAKeyAndShowsTheRecipeDefaults() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (String path : List.of("/", "/studio.css", "/js/studio.js", "/js/api.js")) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base() + path)).header("Accept", "text/html,*/*").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(path + " without a key").isEqualTo(200);
        }
        assertThat(driver.getTitle()).isEqualTo("Kaze studio");
        assertThat(byId("prompt").getDomProperty("value")).startsWith(Recipe.TRIGGER);
        assertThat(byId("recipe-negative").getDomProperty("textContent").strip()).isEqualTo(Recipe.NEGATIVE_PROMPT);
        Map<String, Object> defaults = Map.of("width", Recipe.WIDTH, "height", Recipe.HEIGHT, "frames", Recipe.FRAMES, "fps", Recipe.FPS,
                "steps", Recipe.STEPS, "shift", Recipe.SHIFT, "guidance-scale", Recipe.NAG_SCALE, "nag-tau", Recipe.NAG_TAU, "nag-alpha", Recipe.NAG_ALPHA);
        for (var d : defaults.entrySet())
            assertThat(Double.parseDouble(byId(d.getKey()).getDomProperty("value"))).as(d.getKey())
                    .isEqualTo(((Number) d.getValue()).doubleValue());
        assertThat(byId("guidance").getDomProperty("value")).isEqualTo("nag");
        // the served model is the preview: the page says so and how to get the real one
        assertThat(byId("preview-notice").isDisplayed()).isTrue();
        assertThat(byId("preview-notice").getText()).contains("java -jar kaze.jar models pull wan2.1-t2v-14b-fp8");
        // every control has a label (or an aria-label), every button a name
        Object unlabeled = js("return [...document.querySelectorAll('input,select,textarea,button')].filter(e => "
                + "!(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))"
                + ".map(e => e.id || e.outerHTML)");
        assertThat((List<?>) unlabeled).as("controls without a label").isEmpty();
        // the key field shows the kept key; a key typed there is kept in localStorage and used
        assertThat(byId("api-key").getDomProperty("value")).isEqualTo(KEY);
        js("localStorage.clear()");
        byId("api-key").clear();
        byId("api-key").sendKeys(KEY);
        byId("save-key").click();
        assertThat(js("return localStorage.getItem('kaze.apiKey')")).isEqualTo(KEY);
        waitUntil("the page reloads its data with the typed key", () -> byId("key-state").getText().contains("saved"));
        driver.navigate().refresh();
        waitUntil("the page loads with the kept key", () -> "true".equals(js("return document.body.dataset.ready")));
        screenshot("desktop");
        // a phone's width: nothing wider than the screen
        driver.manage().window().setSize(new Dimension(390, 844));
        waitUntil("the layout follows the narrow window", () -> ((Number) js("return window.innerWidth")).intValue() <= 400);
        assertThat(((Number) js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")).intValue())
                .as("horizontal overflow at 390 px").isLessThanOrEqualTo(0);
        screenshot("phone");
    }

    @Test
    void enhancePromptShowsTheTextOrSaysPolitelyThatItIsOff() {
        set("prompt", "a cat on a roof");
        byId("enhance").click();
        waitUntil("the enhancer answers", () -> byId("enhanced-box").isDisplayed() || byId("enhance").getDomAttribute("hidden") != null);
        if (byId("enhance").getDomAttribute("hidden") != null) {
            // off on this server (503 prompt-enhancer-off, or no such endpoint): said so, the controls off, no error banner
            assertThat(byId("enhance-state").getText()).contains("not switched on");
            assertThat(byId("enhance-on-submit").isEnabled()).isFalse();
            assertThat(byId("error").isDisplayed()).isFalse();
            // the browser reports the refused call itself; nothing else may be in the console
            assertThat(severeLogs()).allMatch(m -> m.contains("/v1/prompts/enhance") && m.matches(".*status of (404|503).*"));
        } else {
            assertThat(byId("enhanced").getDomProperty("value")).isNotBlank();
            byId("use-enhanced").click();
            assertThat(byId("prompt").getDomProperty("value")).isEqualTo(byId("enhanced").getDomProperty("value"));
        }
    }

    @Test
    void makesAVideoShowsItsStepsAndPlaysIt() throws Exception {
        js("window.__seen = { status: [], preview: [] };"
                + "new MutationObserver(() => window.__seen.status.push(document.getElementById('job-status').textContent))"
                + "  .observe(document.getElementById('job-status'), { childList: true, characterData: true, subtree: true });"
                + "new MutationObserver(() => window.__seen.preview.push(document.getElementById('live-img').getAttribute('src')))"
                + "  .observe(document.getElementById('live-img'), { attributes: true, attributeFilter: ['src'] });");
        int frames = 9, steps = 6;
        String id = make("Studio Ghibli style. A fox runs through tall grass.", 64, frames, steps);
        waitUntil("the video completes", RENDER, () -> "completed".equals(js("return document.getElementById('job-status').dataset.status")));
        List<?> seen = (List<?>) js("return window.__seen.status");
        // the WebSocket's progress events reached the page: several steps of the render shown as they happened
        Pattern step = Pattern.compile("step (\\d+) of " + steps);
        Set<Integer> stepsShown = seen.stream().map(String::valueOf).map(step::matcher).filter(Matcher::find)
                .map(m -> Integer.parseInt(m.group(1))).filter(n -> n >= 1).collect(Collectors.toSet());
        assertThat(stepsShown).as("steps shown live while it rendered, among %s", seen).hasSizeGreaterThanOrEqualTo(2);
        // live previews: every preview event of the job's log changed the image (a server without preview events has none)
        HttpResponse<String> log = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(base() + "/v1/videos/" + id + "/events"))
                .header("Authorization", "Bearer " + KEY).header("Accept", "text/event-stream").build(), HttpResponse.BodyHandlers.ofString());
        long previewEvents = log.body().lines().filter(l -> l.equals("event:preview")).count();
        boolean serverSendsPreviews = Arrays.stream(JobEventType.values()).anyMatch(t -> t.wireName().equals("preview"));
        if (serverSendsPreviews) assertThat(previewEvents).as("preview events in the log of %s", id).isPositive();
        List<?> previews = (List<?>) js("return window.__seen.preview.filter(s => s)");
        assertThat(previews).as("live preview images shown while rendering").hasSize((int) previewEvents);
        assertThat(previews.stream().distinct().count()).as("each preview event changes the image URL").isEqualTo(previewEvents);
        // the finished video plays in the page, seekable (Range), with the frames it was asked for
        waitUntil("the video element has data", Duration.ofSeconds(30), () -> ((Number) js("return document.getElementById('player').readyState")).intValue() >= 2);
        double duration = ((Number) js("return document.getElementById('player').duration")).doubleValue();
        assertThat(duration).isCloseTo(frames / (double) Recipe.FPS, Offset.offset(1.0 / Recipe.FPS));
        js("const v = document.getElementById('player'); v.muted = true; v.currentTime = 0.25; v.play();");
        waitUntil("the video plays", () -> (Boolean) js("const v = document.getElementById('player'); return !v.paused && v.currentTime > 0.25 || v.ended"));
        assertThat(byId("download").getDomAttribute("href")).contains("/v1/videos/" + id + "/content");
        assertThat(byId("manifest").getDomProperty("textContent")).contains("\"steps\": " + steps).contains("\"frames\": " + frames)
                .contains("\"seed\"");
        assertThat(byId("job-preview-note").isDisplayed()).as("the preview model's note on its video").isTrue();
        byId("copy-curl").click();
        assertThat(byId("snippet").getDomProperty("value")).contains("curl -s -X POST " + base() + "/v1/videos")
                .contains("\"steps\":" + steps).contains("\"size\":\"64x64\"").contains("\"seed\":");
        byId("copy-sdk").click();
        assertThat(byId("snippet").getDomProperty("value")).contains("client.videos.create_and_poll(").contains("size=\"64x64\"")
                .contains("\"frames\": " + frames).contains("\"sampler\": \"unipc\"");
        screenshot("played");
    }

    @Test
    void cancelsAQueuedJob() {
        String first = make("Studio Ghibli style. A long render that keeps the worker busy.", 256, 49, 60);
        String second = make("Studio Ghibli style. A render that never starts.", 64, 9, 4);
        waitUntil("the second video is listed as queued", () -> "queued".equals(jobStatus(second)));
        driver.findElement(By.cssSelector("#jobs li[data-id='" + second + "'] button.cancel")).click();
        waitUntil("the second video is cancelled", () -> "cancelled".equals(jobStatus(second)));
        assertThat(driver.findElement(By.cssSelector("#jobs li[data-id='" + second + "'] button.cancel")).isDisplayed()).isFalse();
        driver.findElement(By.cssSelector("#jobs li[data-id='" + first + "'] button.cancel")).click();
        waitUntil("the first video stops", RENDER, () -> List.of("cancelled", "completed").contains(jobStatus(first)));
    }

    @Test
    void uploadsALoraUsesItAndDeletesIt() throws Exception {
        Path file = Path.of(DATA, "studio-style.safetensors").toAbsolutePath();
        try (PointerScope scope = new PointerScope();
             LoraNetwork net = LoraNetwork.create(PreviewModel.DIT, 4, 4, 11, new Device(torch.DeviceType.CPU))) {
            try (NoGradGuard g = new NoGradGuard()) {
                for (LoraNetwork.Module m : net.modules()) m.up().uniform_(-0.5, 0.5, new GeneratorOptional());
            }
            net.save(file);
        }
        set("lora-name", "studio-style");
        byId("lora-file").sendKeys(file.toString());
        byId("lora-upload").click();
        waitUntil("the LoRA is listed", () -> !driver.findElements(By.cssSelector("#lora-table tr[data-name='studio-style']")).isEmpty());
        byId("lora-use-studio-style").click();
        set("lora-use-studio-style-s", "0.8");
        String id = make("Studio Ghibli style. A lantern in the rain.", 64, 5, 2);
        waitUntil("the video with the LoRA completes", RENDER, () -> "completed".equals(jobStatus(id)));
        waitUntil("the manifest is shown", () -> byId("manifest").getDomProperty("textContent").contains("studio-style"));
        assertThat(byId("manifest").getDomProperty("textContent").replaceAll("\\s", "")).contains("{\"name\":\"studio-style\",\"strength\":0.8}");
        driver.findElement(By.cssSelector("#lora-table tr[data-name='studio-style'] button")).click();
        driver.switchTo().alert().accept();
        waitUntil("the LoRA is gone", () -> driver.findElements(By.cssSelector("#lora-table tr[data-name='studio-style']")).isEmpty());
        assertThat(Path.of(DATA, "loras", "studio-style.safetensors")).doesNotExist();
    }

    @Test
    void trainsALoraAndDrawsTheLossCurve() throws Exception {
        Path dir = Path.of(DATA, "datasets", "tiny");
        TestDatasets.write(dir, true);
        Path zip = Path.of(DATA, "tiny.zip").toAbsolutePath();
        try (OutputStream out = Files.newOutputStream(zip); ZipOutputStream z = new ZipOutputStream(out); Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                z.putNextEntry(new ZipEntry(dir.relativize(p).toString().replace(File.separatorChar, '/')));
                z.write(Files.readAllBytes(p));
                z.closeEntry();
            }
        }
        int steps = 6;
        byId("dataset").sendKeys(zip.toString());
        set("train-lora-name", "studio-trained");
        set("network-dim", 4);
        set("network-alpha", 4);
        set("learning-rate", "0.01");
        set("max-train-steps", steps);
        set("train-seed", 7);
        set("save-every", 3);
        byId("train-submit").click();
        waitUntil("the training is selected", () -> byId("train-id").getText().startsWith("train_"));
        waitUntil("the loss chart has points", RENDER, () -> Integer.parseInt(byId("loss-chart").getDomAttribute("data-points")) >= 1);
        waitUntil("the training completes", RENDER, () -> "completed".equals(js("return document.getElementById('train-status').dataset.status")));
        assertThat(Integer.parseInt(byId("loss-chart").getDomAttribute("data-points"))).as("one loss point per step").isEqualTo(steps);
        assertThat(byId("loss-line").getDomAttribute("points").split(" ")).hasSize(steps);
        assertThat(byId("loss-caption").getText()).contains("step " + steps);
        // register the step-3 checkpoint as a LoRA from the page
        WebElement register = driver.findElement(By.xpath("//ul[@id='checkpoints']/li[a[contains(., 'step00000003')]]/button"));
        register.click();
        waitUntil("the checkpoint is registered", () -> register.getText().equals("Registered"));
        waitUntil("the checkpoint LoRA is listed", () -> !driver.findElements(By.cssSelector("#lora-table tr[data-name='studio-trained-3']")).isEmpty());
        assertThat(driver.findElements(By.cssSelector("#lora-table tr[data-name='studio-trained']"))).as("the run's final LoRA").isNotEmpty();
    }
}
