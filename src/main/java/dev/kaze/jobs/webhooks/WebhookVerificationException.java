package dev.kaze.jobs.webhooks;

/**
 * A webhook request whose Standard Webhooks signature did not check out: a header is missing,
 * the timestamp is outside the tolerance, or no signature matches. Answer such a request with
 * 401 and do not act on its body.
 */
public final class WebhookVerificationException extends Exception {
    public WebhookVerificationException(String message) {
        super(message);
    }
}
