package dev.kaze.video;

import org.bytedeco.ffmpeg.ffmpeg;
import org.bytedeco.ffmpeg.ffprobe;
import org.bytedeco.javacpp.Loader;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code ffmpeg} and {@code ffprobe} executables bundled in the org.bytedeco:ffmpeg natives jar, extracted to
 * JavaCPP's cache on first use. Their shared libraries sit beside them; {@link #process} puts that folder on
 * {@code LD_LIBRARY_PATH} because libavutil finds its libva dependency only through it.
 */
public enum FfmpegTools {
    FFMPEG(ffmpeg.class), FFPROBE(ffprobe.class);

    private final Class<?> preset;
    private volatile String executable;

    FfmpegTools(Class<?> preset) {
        this.preset = preset;
    }

    /** Absolute path of the executable. */
    public String executable() {
        String path = executable;
        if (path == null) {
            synchronized (this) {
                path = executable;
                if (path == null) {
                    try {
                        path = Loader.load(preset);
                    } catch (LinkageError e) {
                        throw new IllegalStateException("cannot load the " + name().toLowerCase() + " bundled with org.bytedeco:ffmpeg: "
                                + e + ". Its libavdevice needs the system library libpulse.so.0: install it"
                                + " (Debian/Ubuntu: apt-get install libpulse0)", e);
                    }
                    if (path == null)
                        throw new IllegalStateException("the " + name().toLowerCase() + " executable is missing from the"
                                + " org.bytedeco:ffmpeg natives jar; is the linux-x86_64-gpl classifier on the classpath?");
                    executable = path;
                }
            }
        }
        return path;
    }

    /** A process builder for this tool with {@code args}, its library folder on {@code LD_LIBRARY_PATH}. */
    public ProcessBuilder process(List<String> args) {
        String exe = executable();
        List<String> command = new ArrayList<>(args.size() + 1);
        command.add(exe);
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command);
        Map<String, String> env = builder.environment();
        String libs = Path.of(exe).getParent().toString();
        String existing = env.get("LD_LIBRARY_PATH");
        env.put("LD_LIBRARY_PATH", existing == null || existing.isEmpty() ? libs : libs + ":" + existing);
        return builder;
    }
}
