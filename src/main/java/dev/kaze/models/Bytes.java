package dev.kaze.models;

import java.util.Locale;

/** Byte counts for people: 512 B, 27.0 MB, 28.6 GB (powers of 1000, as disks are sold). */
final class Bytes {
    private Bytes() {}

    static String human(long bytes) {
        if (bytes < 0) return "unknown size";
        if (bytes < 1000) return bytes + " B";
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
