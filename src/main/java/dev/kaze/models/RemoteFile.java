package dev.kaze.models;

import java.net.URI;

/**
 * A file to download: label names it in messages (repository, revision and path for the hub),
 * size is exact when exactSize (the hub's listing) or an estimate (Civitai's kilobytes, -1 when
 * unknown), checksum is null when nothing is published to verify against.
 */
public record RemoteFile(String label, URI uri, long size, boolean exactSize, Checksum checksum, Access access) {}
