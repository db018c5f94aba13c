package dev.kaze.config;

import dev.kaze.storage.DiskStore;
import dev.kaze.storage.FileStore;
import dev.kaze.storage.S3Settings;
import jakarta.annotation.PreDestroy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Where files live: the S3-compatible bucket of {@code kaze.storage.s3.*} when a bucket is set (checked at start-up:
 * a missing bucket or refused credentials stop the start with what to fix), else the data directory.
 */
@Configuration(proxyBeanMethods = false)
class StorageConfig {
    private static final Logger log = LoggerFactory.getLogger(StorageConfig.class);
    private S3Client client;

    @Bean
    FileStore fileStore(KazeProperties props) {
        S3Settings s3 = props.storage().s3().settings();
        if (s3 == null) return new DiskStore(props.dataDir());
        client = s3.openClient();
        try {
            FileStore store = s3.store(client);
            log.info("files live in {}", store.describe());
            return store;
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    @PreDestroy
    void close() {
        if (client != null) client.close();
    }
}
