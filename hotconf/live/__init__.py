"""`LiveConfig`: the served snapshot, the reload worker, subscriptions and rollouts."""
