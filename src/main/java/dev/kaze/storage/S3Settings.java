package dev.kaze.storage;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Exception;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;

/**
 * How to reach an S3-compatible bucket.
 *
 * @param endpoint  the S3 API's address ({@code http://minio:9000}, {@code https://<account>.r2.cloudflarestorage.com});
 *                  null for AWS S3 itself
 * @param bucket    the bucket (it must exist)
 * @param region    the signing region ({@code us-east-1} for most S3-compatible servers, {@code auto} for R2)
 * @param pathStyle address the bucket as {@code <endpoint>/<bucket>} (MinIO, Ceph, s3proxy) rather than as a host name
 * @param accessKey with secretKey: the credentials; when not set, the SDK's default chain ({@code AWS_ACCESS_KEY_ID}
 *                  and {@code AWS_SECRET_ACCESS_KEY}, a profile, a pod's web identity or instance role)
 * @param prefix    where Kaze's keys start inside the bucket (empty: at its root), so one bucket can serve several installs
 */
public record S3Settings(String endpoint, String bucket, String region, boolean pathStyle, String accessKey,
                         String secretKey, String prefix) {
    public S3Settings {
        if (bucket == null || bucket.isBlank()) throw new IllegalArgumentException("kaze.storage.s3.bucket must name a bucket");
        if (endpoint != null && !endpoint.isBlank()) {
            try {
                URI uri = new URI(endpoint);
                if (uri.getScheme() == null || !uri.getScheme().matches("https?") || uri.getHost() == null)
                    throw new URISyntaxException(endpoint, "not an http(s) address with a host");
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("kaze.storage.s3.endpoint '" + endpoint + "' is not an http(s) address such as http://minio:9000");
            }
        }
        if ((accessKey == null || accessKey.isBlank()) != (secretKey == null || secretKey.isBlank()))
            throw new IllegalArgumentException("set both kaze.storage.s3.access-key and kaze.storage.s3.secret-key, or neither"
                    + " (then the AWS default credentials chain is used)");
        region = region == null || region.isBlank() ? "us-east-1" : region.strip();
        prefix = prefix == null ? "" : prefix.strip();
    }

    /** A client for this endpoint; the caller closes it. */
    public S3Client openClient() {
        AwsCredentialsProvider credentials = accessKey == null || accessKey.isBlank() ? DefaultCredentialsProvider.builder().build()
                : StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey));
        var builder = S3Client.builder()
                .region(Region.of(region))
                .forcePathStyle(pathStyle)
                .credentialsProvider(credentials)
                // S3-compatible servers (MinIO, Ceph, R2, s3proxy) differ in the newer default checksums; send and check them only where required
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClient(UrlConnectionHttpClient.builder().connectionTimeout(Duration.ofSeconds(10)).socketTimeout(Duration.ofMinutes(2)).build());
        if (endpoint != null && !endpoint.isBlank()) builder.endpointOverride(URI.create(endpoint));
        return builder.build();
    }

    /** The store on client, after checking that the bucket answers; an error says what to fix. */
    public S3Store store(S3Client client) {
        try {
            client.headBucket(b -> b.bucket(bucket));
        } catch (S3Exception e) {
            String why = e.statusCode() == 404 ? "does not exist: create it first"
                    : e.statusCode() == 403 ? "refuses these credentials (403): check kaze.storage.s3.access-key/secret-key or the role's permissions"
                    : "answered " + e.statusCode() + ": " + e.getMessage();
            throw new IllegalStateException("kaze.storage.s3.bucket '" + bucket + "' at " + where() + " " + why, e);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot reach the bucket '" + bucket + "' at " + where() + ": " + e.getMessage()
                    + " (check kaze.storage.s3.endpoint)", e);
        }
        return new S3Store(client, bucket, prefix);
    }

    private String where() { return endpoint == null || endpoint.isBlank() ? "AWS S3 (" + region + ")" : endpoint; }
}
