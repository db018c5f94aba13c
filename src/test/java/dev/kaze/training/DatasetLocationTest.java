package dev.kaze.training;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** An upload zipped in its folder is that folder; anything else at the top level keeps the upload itself. */
class DatasetLocationTest {
    @Test void oneTopLevelFolderIsTheDataset(@TempDir Path upload) throws Exception {
        Files.createDirectories(upload.resolve("ghibli/images"));
        Files.createDirectories(upload.resolve("__MACOSX"));
        Files.writeString(upload.resolve(".DS_Store"), "x");
        DatasetLocation l = DatasetLocation.uploaded(upload);
        assertThat(l.dir()).isEqualTo(upload.resolve("ghibli").toRealPath());
        assertThat(l.root()).isEqualTo(upload.toRealPath());
    }

    @Test void aFileBesideTheFolderOrAConfigOrTwoFoldersKeepTheTopLevel(@TempDir Path a, @TempDir Path b, @TempDir Path c) throws Exception {
        Files.createDirectories(a.resolve("ghibli"));
        Files.writeString(a.resolve("notes.txt"), "x");
        assertThat(DatasetLocation.uploaded(a).dir()).isEqualTo(a.toRealPath());
        Files.createDirectories(b.resolve("images"));
        Files.writeString(b.resolve("dataset.toml"), "");
        assertThat(DatasetLocation.uploaded(b).dir()).isEqualTo(b.toRealPath());
        Files.createDirectories(c.resolve("images"));
        Files.createDirectories(c.resolve("videos"));
        assertThat(DatasetLocation.uploaded(c).dir()).isEqualTo(c.toRealPath());
    }
}
