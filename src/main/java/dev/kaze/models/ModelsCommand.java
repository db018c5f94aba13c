package dev.kaze.models;

import java.io.Console;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code kaze models list | status [bundle…] | pull <bundle>}: the command line for fetching the
 * weights, run by {@code java -jar kaze.jar models …}. The defaults are the server's, read from the
 * same environment variables, so a pull lands where the server looks: models go to
 * {@code <root>/<bundle>} (--root, KAZE_MODELS_ROOT, default {@code <KAZE_DATA_DIR>/models} with the
 * server's data directory ./data/kaze), LoRAs to --loras (KAZE_MODELS_LORAS, else
 * {@code <KAZE_MODELS_DIR>/loras} as the server's catalog, else {@code <root>/loras}); HF_ENDPOINT,
 * HF_TOKEN, CIVITAI_TOKEN are read from the environment.
 */
public final class ModelsCommand {
    static final String USAGE = """
            usage: kaze models list
                   kaze models status [<bundle>...]
                   kaze models pull <bundle> [--rank 32|64|128]
                   kaze models pull url:<https://...> [--sha256 <hex>] [--as <name>]
            options: --root <dir>   models root, each model in <root>/<bundle> (KAZE_MODELS_ROOT, default <KAZE_DATA_DIR>/models,
                                    KAZE_DATA_DIR defaulting to ./data/kaze as for the server)
                     --loras <dir>  LoRA directory (KAZE_MODELS_LORAS, else <KAZE_MODELS_DIR>/loras, else <root>/loras)
            environment: HF_ENDPOINT, HF_TOKEN (gated Hugging Face repositories), CIVITAI_TOKEN (Civitai downloads)""";

    private final FreeSpace freeSpace;
    private final boolean interactive;
    private final Duration retryPause;

    public ModelsCommand() {
        Console console = System.console();
        this(FreeSpace.DISK, console != null && console.isTerminal(), Duration.ofSeconds(2));
    }

    ModelsCommand(FreeSpace freeSpace, boolean interactive, Duration retryPause) {
        this.freeSpace = freeSpace;
        this.interactive = interactive;
        this.retryPause = retryPause;
    }

    /** Runs one command; returns the exit status (0 done, 1 failed, 2 wrong usage). */
    public int run(String[] args, PrintStream out, PrintStream err, Map<String, String> env) {
        List<String> positional = new ArrayList<>();
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                out.println(USAGE);
                return 0;
            }
            if (a.startsWith("--")) {
                if (!List.of("--root", "--loras", "--rank", "--sha256", "--as").contains(a) || i + 1 >= args.length)
                    return usage(err, a.startsWith("--") && i + 1 >= args.length ? a + " needs a value" : "unknown option " + a);
                options.put(a.substring(2), args[++i]);
            } else positional.add(a);
        }
        if (positional.isEmpty()) return usage(err, "which command?");
        Path dataDir = Path.of(env.getOrDefault("KAZE_DATA_DIR", "data/kaze"));
        Path root = Path.of(options.getOrDefault("root", env.getOrDefault("KAZE_MODELS_ROOT", dataDir.resolve("models").toString())));
        Path catalog = env.containsKey("KAZE_MODELS_DIR") ? Path.of(env.get("KAZE_MODELS_DIR")).resolve("loras") : root.resolve("loras");
        Path loras = Path.of(options.getOrDefault("loras", env.getOrDefault("KAZE_MODELS_LORAS", catalog.toString())));
        ModelPaths paths = new ModelPaths(root, loras);
        List<String> rest = positional.subList(1, positional.size());
        try {
            return switch (positional.getFirst()) {
                case "list" -> list(out);
                case "status" -> status(rest, paths, out, err);
                case "pull" -> rest.size() != 1 ? usage(err, "pull takes one bundle name") : pull(rest.getFirst(), options, paths, out, err, env);
                default -> usage(err, "unknown command " + positional.getFirst());
            };
        } catch (IllegalArgumentException e) {
            return usage(err, e.getMessage());
        } catch (PullException e) {
            err.println();
            err.println("error: " + e.getMessage());
            return 1;
        }
    }

    private int list(PrintStream out) {
        for (Bundle b : Catalog.bundles())
            out.printf("%-20s %-5s %s%n", b.name(), b.kind().name().toLowerCase(Locale.ROOT), b.description());
        out.printf("%-20s %-5s %s%n", "url:<https://...>", "lora", "a LoRA from any URL (--sha256 to verify it, --as to name it)");
        return 0;
    }

    private int status(List<String> names, ModelPaths paths, PrintStream out, PrintStream err) {
        List<Bundle> bundles = new ArrayList<>();
        if (names.isEmpty()) bundles.addAll(Catalog.bundles());
        for (String n : names) bundles.add(bundle(n, Map.of()));
        for (Bundle b : bundles) {
            BundleStatus s = BundleStatus.of(b, paths);
            out.println(s.bundle() + ": " + (s.ready() ? "ready" : "incomplete") + " in " + s.directory());
            for (BundleStatus.PartStatus p : s.parts())
                out.printf("  %-10s %10s  %s%s%n", p.state().name().toLowerCase(Locale.ROOT),
                        p.state() == BundleStatus.State.MISSING ? "" : Bytes.human(p.bytes()), p.target(),
                        (p.hash() != null ? "  " + p.algorithm() + ":" + p.hash() : "") + (p.optional() ? "  (optional)" : ""));
        }
        return 0;
    }

    private int pull(String name, Map<String, String> options, ModelPaths paths, PrintStream out, PrintStream err, Map<String, String> env) {
        Bundle bundle = bundle(name, options);
        HttpGet http = HttpGet.create();
        Puller puller = new Puller(HubClient.fromEnv(env, http), CivitaiClient.fromEnv(env, http),
                new Downloader(http, freeSpace, 5, retryPause), paths);
        puller.pull(bundle, new TerminalProgress(err, interactive));
        Path dir = paths.directory(bundle);
        if (bundle.kind() == Bundle.Kind.MODEL) out.println("ready: run Kaze with kaze.models.dir=" + dir);
        else out.println("LoRA " + bundle.parts().getFirst().target() + " is in " + dir + " (kaze.models.loras=" + dir + ")");
        return 0;
    }

    private static Bundle bundle(String name, Map<String, String> options) {
        if (name.startsWith("url:")) return Catalog.url(name.substring(4), options.get("sha256"), options.get("as"));
        if (options.containsKey("sha256") || options.containsKey("as"))
            throw new IllegalArgumentException("--sha256 and --as go with url:<https://...>");
        if (name.equals("lightx2v") && options.containsKey("rank")) {
            try {
                return Catalog.lightx2v(Integer.parseInt(options.get("rank")));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--rank takes 32, 64 or 128, not " + options.get("rank"));
            }
        }
        if (options.containsKey("rank")) throw new IllegalArgumentException("--rank goes with lightx2v");
        return Catalog.find(name).orElseThrow(() -> new IllegalArgumentException("no bundle named " + name + "; known: "
                + String.join(", ", Catalog.bundles().stream().map(Bundle::name).toList()) + ", url:<https://...>"));
    }

    private static int usage(PrintStream err, String problem) {
        err.println("error: " + problem);
        err.println(USAGE);
        return 2;
    }
}
