package dev.kaze.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Percentiles (nearest rank) of a set of latencies measured in nanoseconds, reported in milliseconds. */
record Latencies(long count, double p50, double p90, double p99, double max, double mean) {

    static Latencies of(long[] nanos) {
        if (nanos.length == 0) return new Latencies(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        double sum = 0;
        for (long n : sorted) sum += n;
        return new Latencies(sorted.length, ms(rank(sorted, 50)), ms(rank(sorted, 90)), ms(rank(sorted, 99)),
                ms(sorted[sorted.length - 1]), sum / sorted.length / 1e6);
    }

    private static long rank(long[] sorted, double percentile) {
        int i = (int) Math.ceil(percentile / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static double ms(long nanos) { return nanos / 1e6; }

    Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", count);
        m.put("p50_ms", round(p50));
        m.put("p90_ms", round(p90));
        m.put("p99_ms", round(p99));
        m.put("max_ms", round(max));
        m.put("mean_ms", round(mean));
        return m;
    }

    static double round(double v) { return Double.isNaN(v) ? v : Math.round(v * 1000) / 1000.0; }
}
