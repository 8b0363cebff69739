"""The web server: read-only JSON API, Prometheus ``/metrics`` and an overview page."""
