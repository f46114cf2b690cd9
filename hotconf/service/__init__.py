"""The HTTP service: the API app, its endpoints, server, metrics and readiness."""
