"""The web server: JSON API (read-only but for the switch endpoint), live events, Prometheus
``/metrics`` and the dashboard."""
