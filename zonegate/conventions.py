"""Names that are an interface: HTTP headers, admin paths, metric and label names.

Node metrics, the GLB, the chaos harness, the SLO engine and its generated
Prometheus rules all import these; change one here and every user follows.
Metric names follow Prometheus conventions (base units, ``_total`` counters,
``_seconds`` durations); span attributes follow OpenTelemetry's HTTP semantic
conventions.
"""

from __future__ import annotations

from typing import Final

# --- HTTP headers --------------------------------------------------------
HEADER_REQUEST_ID: Final = "x-request-id"
HEADER_ZONE: Final = "x-zonegate-zone"
HEADER_NODE: Final = "x-zonegate-node"
HEADER_CONSUMER: Final = "x-consumer-name"
HEADER_PARTIAL: Final = "x-zonegate-partial"
HEADER_SHADOW: Final = "x-zonegate-shadow"
HEADER_CLIENT_REGION: Final = "x-client-region"
HEADER_TRACEPARENT: Final = "traceparent"
VIA_TOKEN: Final = "zonegate"

# --- admin paths (node and GLB) -------------------------------------------
ADMIN_HEALTHZ: Final = "/healthz"
ADMIN_READYZ: Final = "/readyz"
ADMIN_METRICS: Final = "/metrics"
ADMIN_CONFIG: Final = "/config"
ADMIN_DRAIN: Final = "/drain"
ADMIN_STATUS: Final = "/status"

# --- metric names ----------------------------------------------------------
METRIC_PREFIX: Final = "zonegate"
# node data plane
NODE_REQUESTS_TOTAL: Final = "zonegate_http_requests_total"
NODE_REQUEST_DURATION: Final = "zonegate_http_request_duration_seconds"
NODE_ACTIVE_REQUESTS: Final = "zonegate_http_active_requests"
UPSTREAM_REQUEST_DURATION: Final = "zonegate_upstream_request_duration_seconds"
UPSTREAM_RETRIES_TOTAL: Final = "zonegate_upstream_retries_total"
UPSTREAM_EJECTIONS_TOTAL: Final = "zonegate_upstream_outlier_ejections_total"
UPSTREAM_BREAKER_STATE: Final = "zonegate_upstream_circuit_breaker_state"
UPSTREAM_HEALTH_CHECKS_TOTAL: Final = "zonegate_upstream_health_checks_total"
UPSTREAM_HOST_HEALTHY: Final = "zonegate_upstream_host_healthy"
CONFIG_REVISION: Final = "zonegate_config_revision"
# edge (GLB)
GLB_REQUESTS_TOTAL: Final = "zonegate_glb_requests_total"
GLB_REQUEST_DURATION: Final = "zonegate_glb_request_duration_seconds"

# --- label names -----------------------------------------------------------
LABEL_ROUTE: Final = "route"
LABEL_CLUSTER: Final = "cluster"
LABEL_ZONE: Final = "zone"
LABEL_NODE: Final = "node"
LABEL_STATUS_CLASS: Final = "status_class"
LABEL_CODE: Final = "code"
LABEL_HOST: Final = "host"
LABEL_REGION: Final = "region"

# --- stable error codes (JSON error bodies) ------------------------------
ERR_NO_ROUTE: Final = "route_not_found"
ERR_UPSTREAM_UNAVAILABLE: Final = "upstream_unavailable"
ERR_UPSTREAM_CONNECT: Final = "upstream_connect_failed"
ERR_UPSTREAM_RESET: Final = "upstream_reset"
ERR_UPSTREAM_TIMEOUT: Final = "upstream_timeout"
ERR_CIRCUIT_OPEN: Final = "circuit_open"
ERR_OVERLOADED: Final = "upstream_overloaded"
ERR_BAD_REQUEST: Final = "bad_request"
ERR_HEADERS_TOO_LARGE: Final = "request_header_fields_too_large"
ERR_BODY_TOO_LARGE: Final = "payload_too_large"
ERR_REQUEST_TIMEOUT: Final = "request_timeout"
ERR_RATE_LIMITED: Final = "rate_limited"
ERR_UNAUTHENTICATED: Final = "unauthenticated"
ERR_FORBIDDEN: Final = "forbidden"


def status_class(status: int) -> str:
    """``503`` -> ``"5xx"``."""
    return f"{status // 100}xx"


# --- policies (auth, rate limit, composition) -----------------------------
HEADER_RATELIMIT_LIMIT: Final = "ratelimit-limit"
HEADER_RATELIMIT_REMAINING: Final = "ratelimit-remaining"
HEADER_RATELIMIT_RESET: Final = "ratelimit-reset"
HEADER_RETRY_AFTER: Final = "retry-after"
HEADER_WWW_AUTHENTICATE: Final = "www-authenticate"
ERR_COMPOSITION_FAILED: Final = "composition_call_failed"
RATE_LIMIT_DECISIONS_TOTAL: Final = "zonegate_rate_limit_decisions_total"
AUTH_FAILURES_TOTAL: Final = "zonegate_auth_failures_total"
COMPOSITION_CALLS_TOTAL: Final = "zonegate_composition_calls_total"
LABEL_LIMIT: Final = "limit"
LABEL_DECISION: Final = "decision"
LABEL_REASON: Final = "reason"
LABEL_CALL: Final = "call"
LABEL_OUTCOME: Final = "outcome"


# --- coordinator (etcd) -----------------------------------------------------
ETCD_REACHABLE: Final = "zonegate_etcd_reachable"
ETCD_REQUESTS_TOTAL: Final = "zonegate_etcd_requests_total"
ETCD_ENDPOINT_SWITCHES_TOTAL: Final = "zonegate_etcd_endpoint_switches_total"
ETCD_WATCH_RESTARTS_TOTAL: Final = "zonegate_etcd_watch_restarts_total"
ETCD_LEASES_LOST_TOTAL: Final = "zonegate_etcd_leases_lost_total"
CONFIG_UPDATES_TOTAL: Final = "zonegate_config_updates_total"
CONFIG_REJECTED_TOTAL: Final = "zonegate_config_rejected_total"
LEADER_IS_LEADER: Final = "zonegate_leader_is_leader"
LEADER_CHANGES_TOTAL: Final = "zonegate_leader_changes_total"
LEADER_FENCING_TOKEN: Final = "zonegate_leader_fencing_token"
LEADER_FENCED_WRITES_TOTAL: Final = "zonegate_leader_fenced_writes_total"
LABEL_OP: Final = "op"
GLOBAL_RATELIMIT_SHARED: Final = "zonegate_global_ratelimit_shared"
GLOBAL_RATELIMIT_LIVE_NODES: Final = "zonegate_global_ratelimit_live_nodes"
GLOBAL_RATELIMIT_SYNCS_TOTAL: Final = "zonegate_global_ratelimit_syncs_total"


# --- SLO engine (generated recording/alerting rules, notifications) ---------
SLO_ALERT_NAME: Final = "ZonegateSLOBurnRate"
LABEL_SLO: Final = "slo"
LABEL_SLO_SERVICE: Final = "slo_service"
LABEL_SLO_WINDOW: Final = "slo_window"
LABEL_SEVERITY: Final = "severity"
SLO_RECORD_SLI_ERROR: Final = "slo:sli_error:ratio_rate"  # + window, e.g. ratio_rate5m
SLO_RECORD_EVENTS: Final = "slo:sli_events:increase"  # + window
SLO_RECORD_BURN_RATE: Final = "slo:burn_rate:ratio_rate"  # + window
SLO_RECORD_OBJECTIVE: Final = "slo:objective:ratio"
SLO_RECORD_ERROR_BUDGET: Final = "slo:error_budget:ratio"
SLO_RECORD_PERIOD_DAYS: Final = "slo:time_period:days"
SLO_RECORD_CURRENT_BURN: Final = "slo:current_burn_rate:ratio"
SLO_RECORD_PERIOD_BURN: Final = "slo:period_burn_rate:ratio"
SLO_RECORD_BUDGET_REMAINING: Final = "slo:period_error_budget_remaining:ratio"
SLO_INFO: Final = "zonegate_slo_info"

# --- GLB (edge) metrics and headers ------------------------------------------
GLB_ZONE_HEALTHY_RATIO: Final = "zonegate_glb_zone_healthy_ratio"
GLB_FAILOVERS_TOTAL: Final = "zonegate_glb_zone_transitions_total"
GLB_ROUTING_DECISIONS_TOTAL: Final = "zonegate_glb_routing_decisions_total"
GLB_RETRIES_TOTAL: Final = "zonegate_glb_retries_total"
GLB_NODES_MARKED_DOWN_TOTAL: Final = "zonegate_glb_nodes_marked_down_total"
GLB_HEALTH_CHECK_DURATION: Final = "zonegate_glb_health_check_duration_seconds"
LABEL_EVENT: Final = "event"
#: A node sets this on responses while it drains; the GLB takes it out at once.
HEADER_DRAINING: Final = "x-zonegate-draining"
ERR_NO_HEALTHY_ZONE: Final = "no_healthy_zone"

# --- node operations (admin, metrics, tracing, access log, TLS, drain) -------
#: Histogram buckets of every request-duration histogram (node and edge); a latency
#: SLO threshold must be one of them.
_SUB_SECOND_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)
DURATION_BUCKETS: Final = (*_SUB_SECOND_BUCKETS, 1.0, 2.5, 5.0, 10.0)
UPSTREAM_ATTEMPTS_TOTAL: Final = "zonegate_upstream_attempts_total"
UPSTREAM_HOST_EJECTED: Final = "zonegate_upstream_host_ejected"
NODE_DRAINING: Final = "zonegate_node_draining"
NODE_INFO: Final = "zonegate_node_info"
ACCESS_LOG_LINES_TOTAL: Final = "zonegate_access_log_lines_total"
ACCESS_LOG_DROPPED_TOTAL: Final = "zonegate_access_log_dropped_total"
TLS_CERT_RELOADS_TOTAL: Final = "zonegate_tls_certificate_reloads_total"
TLS_CERT_EXPIRY: Final = "zonegate_tls_certificate_expiry_timestamp_seconds"
LABEL_STATE: Final = "state"
LABEL_RESULT: Final = "result"
LABEL_VERSION: Final = "version"
#: Admin bearer token: environment variable read when no token file is given.
ENV_ADMIN_TOKEN: Final = "ZONEGATE_ADMIN_TOKEN"
HEADER_TRACESTATE: Final = "tracestate"

# --- progressive delivery (weights, canaries, mirroring, error pages, catalog) ----
#: Shadow copies of requests by route, shadow cluster and outcome (status class,
#: local error code, or skipped_concurrency / skipped_body / skipped_no_host).
MIRROR_REQUESTS_TOTAL: Final = "zonegate_mirror_requests_total"
#: Team fragments a node dropped from its merged config (invalid or conflicting).
CONFIG_FRAGMENTS_DROPPED: Final = "zonegate_config_fragments_dropped"
#: An upstream error answer a route replaced with the gateway's error body.
ERR_UPSTREAM_ERROR: Final = "upstream_error"
LABEL_TEAM: Final = "team"
