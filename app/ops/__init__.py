"""Running the service: health and readiness checks, metrics, logs, and Caddy's certificate
question. Everything here answers on any host and needs no setting and no session."""
