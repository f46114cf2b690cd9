"""The state directory: history, last-known-good, rejections and the webhook outbox."""
