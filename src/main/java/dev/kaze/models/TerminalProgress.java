package dev.kaze.models;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Pull progress for a terminal: on a TTY one line per file redrawn with {@code \r} (percent,
 * bytes, MB/s, ETA); otherwise (logs, pipes) plain lines at every tenth of a file.
 */
public final class TerminalProgress implements PullListener {
    private static final int NAME_WIDTH = 40;
    private final PrintStream out;
    private final boolean interactive;
    private String name = "";
    private int drawn;
    private int lastTenth;

    public TerminalProgress(PrintStream out, boolean interactive) {
        this.out = out;
        this.interactive = interactive;
    }

    @Override
    public void on(PullEvent event) {
        switch (event) {
            case PullEvent.FileStarted s -> {
                name = s.target().getFileName().toString();
                lastTenth = s.totalBytes() > 0 ? (int) (s.resumedFrom() * 10 / s.totalBytes()) : 0;
                if (!interactive)
                    out.println(s.resumedFrom() > 0
                            ? "resuming " + name + " at " + Bytes.human(s.resumedFrom()) + " of " + Bytes.human(s.totalBytes()) + " (" + s.file() + ")"
                            : "downloading " + name + " (" + Bytes.human(s.totalBytes()) + ") from " + s.file());
            }
            case PullEvent.FileProgress p -> {
                String line = progressLine(p);
                if (interactive) redraw(line);
                else if (p.totalBytes() > 0) {
                    int tenth = (int) (p.doneBytes() * 10 / p.totalBytes());
                    if (tenth > lastTenth && tenth < 10) {
                        lastTenth = tenth;
                        out.println(line);
                    }
                }
            }
            case PullEvent.FileVerified v -> {
                String line = shorten(name) + "  verified " + v.algorithm() + " " + v.hash().substring(0, 12) + "…";
                if (interactive) redraw(line);
                else out.println(line);
            }
            case PullEvent.FileDone d -> {
                String line = d.downloaded()
                        ? shorten(d.target().getFileName().toString()) + "  done, " + Bytes.human(d.bytes())
                        : shorten(d.target().getFileName().toString()) + "  already present, " + Bytes.human(d.bytes());
                if (interactive) {
                    redraw(line);
                    out.println();
                    drawn = 0;
                } else out.println(line);
            }
            case PullEvent.BundleDone b -> out.println(b.bundle() + ": " + b.files() + " file(s), " + Bytes.human(b.bytes()) + " in " + b.directory());
        }
        out.flush();
    }

    private String progressLine(PullEvent.FileProgress p) {
        String speed = Bytes.human((long) p.bytesPerSecond()) + "/s";
        if (p.totalBytes() <= 0) return String.format(Locale.ROOT, "%s  %s  %s", shorten(name), Bytes.human(p.doneBytes()), speed);
        long percent = p.doneBytes() * 100 / p.totalBytes();
        String eta = p.bytesPerSecond() > 0 ? clock((long) ((p.totalBytes() - p.doneBytes()) / p.bytesPerSecond())) : "--:--";
        return String.format(Locale.ROOT, "%s %3d%%  %s / %s  %s  ETA %s", shorten(name), percent,
                Bytes.human(p.doneBytes()), Bytes.human(p.totalBytes()), speed, eta);
    }

    private void redraw(String line) {
        out.print("\r" + line + " ".repeat(Math.max(0, drawn - line.length())));
        drawn = Math.max(drawn, line.length());         // what the terminal row still shows
    }

    private static String shorten(String name) {
        String s = name.length() > NAME_WIDTH ? "…" + name.substring(name.length() - NAME_WIDTH + 1) : name;
        return String.format(Locale.ROOT, "%-" + NAME_WIDTH + "s", s);
    }

    static String clock(long seconds) {
        if (seconds >= 3600) return String.format(Locale.ROOT, "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
        return String.format(Locale.ROOT, "%d:%02d", seconds / 60, seconds % 60);
    }
}
