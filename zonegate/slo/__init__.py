"""SLO engine: specs, SLI / error-budget / burn-rate math, multi-window alerts,
Prometheus rules, the embedded scraper and store, and the dashboard."""
