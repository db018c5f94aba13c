package dev.kaze.storage;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The contract against a real S3 API (s3proxy), each test under its own key prefix of one bucket. */
class S3StoreTest extends FileStoreContract {
    private static S3TestServer server;
    private static S3Client client;
    private static final AtomicInteger runs = new AtomicInteger();

    @BeforeAll static void startServer() throws Exception {
        server = S3TestServer.start("kaze-store-test");
        client = server.client();
    }

    @AfterAll static void stopServer() throws Exception {
        client.close();
        server.close();
    }

    @Override FileStore store() {
        return server.settings("run-" + runs.incrementAndGet()).store(client);
    }

    @Test void thePrefixIsWhereKeysStartInTheBucket() {
        FileStore s = server.settings("install-a").store(client);
        s.put("jobs/j/video.mp4", "v".getBytes(StandardCharsets.UTF_8));
        assertThat(client.headObject(b -> b.bucket(server.bucket()).key("install-a/jobs/j/video.mp4")).contentLength()).isEqualTo(1);
        assertThat(server.settings("install-b").store(client).list("")).isEmpty();
    }

    @Test void aMissingBucketOrWrongCredentialsStopWithWhatToFix() {
        assertThatThrownBy(() -> new S3Settings(server.endpoint(), "no-such-bucket", null, true, S3TestServer.ACCESS_KEY,
                S3TestServer.SECRET_KEY, null).store(client))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no-such-bucket").hasMessageContaining("create it");
        S3Settings wrong = new S3Settings(server.endpoint(), server.bucket(), null, true, "someone", "wrong-secret", null);
        try (S3Client c = wrong.openClient()) {
            assertThatThrownBy(() -> wrong.store(c)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(server.bucket()).hasMessageContaining("403");
        }
    }

    @Test void settingsRefuseHalfCredentialsAndBadEndpoints() {
        assertThatThrownBy(() -> new S3Settings("http://x:9000", "b", null, true, "key", null, null))
                .hasMessageContaining("access-key").hasMessageContaining("secret-key");
        assertThatThrownBy(() -> new S3Settings("minio:9000", "b", null, true, null, null, null))
                .hasMessageContaining("kaze.storage.s3.endpoint");
        assertThatThrownBy(() -> new S3Settings("http://x:9000", " ", null, true, null, null, null))
                .hasMessageContaining("kaze.storage.s3.bucket");
    }
}
