package dev.kaze.jobs.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The store's time: a clock at microsecond precision (what both databases store), strictly increasing within one
 * store, and the conversion of instants to and from TIMESTAMP WITH TIME ZONE columns.
 */
final class StoreClock {
    private final Clock clock;
    private final AtomicLong lastMicros = new AtomicLong();

    StoreClock(Clock clock) {
        this.clock = clock;
    }

    Instant now() {
        long wall = ChronoUnit.MICROS.between(Instant.EPOCH, clock.instant());
        long micros = lastMicros.updateAndGet(prev -> Math.max(prev + 1, wall));
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
    }

    /** A column value for {@code t}. */
    static OffsetDateTime utc(Instant t) {
        return OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
    }

    /** The instant in {@code column}, or null. */
    static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }
}
