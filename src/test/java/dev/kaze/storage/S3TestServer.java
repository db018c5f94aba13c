package dev.kaze.storage;

import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;

/**
 * A real S3 API server for tests: s3proxy on a free local port over jclouds' filesystem backend in a temporary
 * directory, with AWS V4 signatures checked and one bucket created. Kaze's S3 client talks to it as to MinIO or AWS.
 * Tests check what is in the bucket with {@link #keys} and {@link #read}, through a plain S3 client of the server's
 * own, not through Kaze's store.
 */
public final class S3TestServer implements AutoCloseable {
    public static final String ACCESS_KEY = "kaze-test-access";
    public static final String SECRET_KEY = "kaze-test-secret-0123456789";

    private final S3Proxy proxy;
    private final BlobStoreContext context;
    private final Path dir;
    private final String bucket;
    private final S3Client client;

    private S3TestServer(S3Proxy proxy, BlobStoreContext context, Path dir, String bucket) {
        this.proxy = proxy;
        this.context = context;
        this.dir = dir;
        this.bucket = bucket;
        this.client = client();
    }

    /** Starts a server with the bucket. */
    public static S3TestServer start(String bucket) throws Exception {
        Path dir = Files.createTempDirectory("kaze-s3");
        Properties overrides = new Properties();
        overrides.setProperty("jclouds.filesystem.basedir", dir.toString());
        BlobStoreContext context = ContextBuilder.newBuilder("filesystem").credentials("identity", "credential")
                .overrides(overrides).build(BlobStoreContext.class);
        S3Proxy proxy = S3Proxy.builder().blobStore(context.getBlobStore()).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY).build();
        proxy.start();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("s3proxy did not start: " + proxy.getState());
            Thread.sleep(5);
        }
        context.getBlobStore().createContainerInLocation(null, bucket);
        return new S3TestServer(proxy, context, dir, bucket);
    }

    public String endpoint() { return "http://127.0.0.1:" + proxy.getPort(); }

    public String bucket() { return bucket; }

    /** Settings for this server, keys under prefix. */
    public S3Settings settings(String prefix) {
        return new S3Settings(endpoint(), bucket, "us-east-1", true, ACCESS_KEY, SECRET_KEY, prefix);
    }

    /** The {@code kaze.storage.s3.*} properties a Kaze process needs to use this server. */
    public String[] properties(String prefix) {
        return new String[]{"kaze.storage.s3.endpoint=" + endpoint(), "kaze.storage.s3.bucket=" + bucket,
                "kaze.storage.s3.access-key=" + ACCESS_KEY, "kaze.storage.s3.secret-key=" + SECRET_KEY,
                "kaze.storage.s3.prefix=" + prefix};
    }

    /** A new client (the caller closes it). */
    public S3Client client() { return settings("").openClient(); }

    /** The keys under prefix (a full key prefix, the install's prefix included), relative to it and sorted. */
    public List<String> keys(String prefix) {
        return client.listObjectsV2Paginator(r -> r.bucket(bucket).prefix(prefix)).contents().stream()
                .map(S3Object::key).filter(k -> !k.endsWith("/"))   // s3proxy's filesystem backend lists its directories too
                .map(k -> k.substring(prefix.length())).sorted().toList();
    }

    /** The bytes of the object at key (a full key); {@code NoSuchKeyException} when there is none. */
    public byte[] read(String key) {
        return client.getObjectAsBytes(r -> r.bucket(bucket).key(key)).asByteArray();
    }

    /** Removes the object at key (a full key), as someone else with access to the bucket might. */
    public void delete(String key) {
        client.deleteObject(r -> r.bucket(bucket).key(key));
    }

    @Override public void close() throws Exception {
        client.close();
        proxy.stop();
        context.close();
        try (var walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary directory
        }
    }
}
