package dev.kaze.models;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/** A second JVM pulling one hub file: args endpoint, repo, path, target; prints "started" once the transfer begins. */
public final class OtherProcessPull {
    public static void main(String[] args) {
        RemoteFile file = new HubClient(URI.create(args[0]), null, HttpGet.create()).file(args[1], "main", args[2]);
        PullEvent.FileDone done = new Downloader(HttpGet.create(), FreeSpace.DISK, 1, Duration.ZERO).fetch(file, Path.of(args[3]), event -> {
            if (event instanceof PullEvent.FileStarted) {
                System.out.println("started");
                System.out.flush();
            }
        });
        System.out.println(done.downloaded() ? "downloaded" : "reused");
    }
}
