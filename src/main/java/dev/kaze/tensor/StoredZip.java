package dev.kaze.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The central directory of a zip archive whose entries are stored uncompressed (as torch.save writes
 * them), read from a memory mapping of the whole file. ZIP64 records are honoured, so archives and
 * entries above 4 GiB work. Each entry's data is located through its local header, because torch
 * pads local headers with an extra field to align the data.
 */
final class StoredZip {
    /** One stored entry: its data lies at {@code [offset, offset + size)} of the file. */
    record Entry(String name, long offset, long size) {}

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int EOCD_SIG = 0x06054b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int ZIP64_EOCD_SIG = 0x06064b50;
    private static final int CENTRAL_SIG = 0x02014b50;
    private static final int LOCAL_SIG = 0x04034b50;
    private static final int EOCD_SIZE = 22;
    private static final long MAX_ENTRIES = 10_000_000;

    private StoredZip() {}

    /**
     * Reads the directory of {@code file} (a mapping of {@code path}); entries in directory order.
     * Throws a WeightsException naming the file when the archive is damaged or an entry is compressed.
     */
    static Map<String, Entry> read(Path path, MemorySegment file) {
        long size = file.byteSize();
        long eocd = findEndOfCentralDirectory(file);
        if (eocd < 0) {
            if (size >= 2 && file.get(ValueLayout.JAVA_BYTE, 0) == (byte) 0x80)
                throw bad(path, "is a pickle, not a zip: it was written in torch.save's legacy format (torch < 1.6 or "
                        + "_use_new_zipfile_serialization=False). Re-save it with a current torch, or convert it to safetensors");
            throw bad(path, "is not a zip archive or is truncated: no end-of-central-directory record in its last "
                    + Math.min(size, EOCD_SIZE + 0xFFFF) + " bytes (an incomplete download?)");
        }
        long entries = u16(file, eocd + 10);
        long cdSize = u32(file, eocd + 12);
        long cdOffset = u32(file, eocd + 16);
        if (eocd >= 20 && file.get(U32, eocd - 20) == ZIP64_LOCATOR_SIG) {
            long z = file.get(U64, eocd - 20 + 8);
            if (z < 0 || z + 56 > eocd || file.get(U32, z) != ZIP64_EOCD_SIG)
                throw bad(path, "has a ZIP64 locator pointing at byte " + z + ", where there is no ZIP64 end record (damaged file?)");
            entries = file.get(U64, z + 32);
            cdSize = file.get(U64, z + 40);
            cdOffset = file.get(U64, z + 48);
        }
        if (entries < 0 || entries > MAX_ENTRIES)
            throw bad(path, "declares " + entries + " zip entries (allowed: up to " + MAX_ENTRIES + ")");
        if (cdOffset < 0 || cdSize < 0 || cdOffset > size || cdSize > size - cdOffset)
            throw bad(path, "declares a central directory at bytes " + cdOffset + "+" + cdSize
                    + " outside the file of " + size + " bytes (truncated file?)");

        Map<String, Entry> out = new LinkedHashMap<>();
        long p = cdOffset, end = cdOffset + cdSize;
        for (long i = 0; i < entries; i++) {
            if (p + 46 > end || file.get(U32, p) != CENTRAL_SIG)
                throw bad(path, "has a damaged central directory: entry " + i + " of " + entries + " is missing at byte " + p);
            int flags = u16(file, p + 8);
            int method = u16(file, p + 10);
            long compressed = u32(file, p + 20);
            long uncompressed = u32(file, p + 24);
            int nameLen = u16(file, p + 28), extraLen = u16(file, p + 30), commentLen = u16(file, p + 32);
            long local = u32(file, p + 42);
            long next = p + 46 + nameLen + extraLen + commentLen;
            if (next > end) throw bad(path, "has a damaged central directory: entry " + i + " runs past its end");
            String name = new String(file.asSlice(p + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);

            // ZIP64 extra field: the 64-bit values of exactly those fields that hold 0xFFFFFFFF, in this order.
            long x = p + 46 + nameLen, xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = u16(file, x), len = u16(file, x + 2);
                if (x + 4 + len > xEnd) throw bad(path, "entry '" + name + "' has a damaged extra field");
                if (id == 0x0001) {
                    long q = x + 4, qEnd = q + len;
                    if (uncompressed == 0xFFFFFFFFL) { uncompressed = zip64Value(path, name, file, q, qEnd); q += 8; }
                    if (compressed == 0xFFFFFFFFL) { compressed = zip64Value(path, name, file, q, qEnd); q += 8; }
                    if (local == 0xFFFFFFFFL) { local = zip64Value(path, name, file, q, qEnd); }
                }
                x += 4 + len;
            }
            if ((flags & 1) != 0) throw bad(path, "entry '" + name + "' is encrypted; Kaze reads only plain torch.save archives");
            if (method != 0)
                throw bad(path, "entry '" + name + "' is compressed (zip method " + method + (method == 8 ? ", deflate" : "")
                        + "); torch.save stores entries uncompressed, so this archive was repacked. Re-save it with "
                        + "torch.save, or convert it to safetensors");
            if (compressed != uncompressed)
                throw bad(path, "entry '" + name + "' is stored but declares " + compressed + " bytes compressed and "
                        + uncompressed + " uncompressed (damaged directory)");
            if (local < 0 || local + 30 > size || file.get(U32, local) != LOCAL_SIG)
                throw bad(path, "entry '" + name + "' has no local header at byte " + local + " (truncated or damaged file)");
            long data = local + 30 + u16(file, local + 26) + u16(file, local + 28);
            if (compressed < 0 || data > size || compressed > size - data)
                throw bad(path, "entry '" + name + "' needs bytes " + data + ".." + (data + compressed) + " but the file has "
                        + size + " bytes (truncated file?)");
            if (out.put(name, new Entry(name, data, compressed)) != null)
                throw bad(path, "holds the entry '" + name + "' twice");
            p = next;
        }
        return Collections.unmodifiableMap(out);
    }

    private static long findEndOfCentralDirectory(MemorySegment file) {
        long size = file.byteSize();
        long last = size - EOCD_SIZE, first = Math.max(0, last - 0xFFFF);
        for (long p = last; p >= first; p--) {
            // the comment length must reach exactly to the end of the file
            if (file.get(U32, p) == EOCD_SIG && p + EOCD_SIZE + u16(file, p + 20) == size) return p;
        }
        return -1;
    }

    private static long zip64Value(Path path, String name, MemorySegment file, long q, long qEnd) {
        if (q + 8 > qEnd) throw bad(path, "entry '" + name + "' has a ZIP64 extra field too short for its sizes");
        long v = file.get(U64, q);
        if (v < 0) throw bad(path, "entry '" + name + "' declares a ZIP64 size or offset beyond 2^63");
        return v;
    }

    private static int u16(MemorySegment m, long at) { return Short.toUnsignedInt(m.get(U16, at)); }

    private static long u32(MemorySegment m, long at) { return Integer.toUnsignedLong(m.get(U32, at)); }

    private static WeightsException bad(Path path, String what) {
        return new WeightsException("PyTorch checkpoint " + path + " " + what);
    }
}
