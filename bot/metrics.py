"""The Prometheus metrics of a running bot (`/metrics`), with prometheus-client's default registry.

Counters and histograms are counted where the thing happens (a Slack request in `bot.app`, a provider call in
`bot.providers.transport`, a change's move in `bot.store.change_requests`, a periodic run in
`bot.services.scheduler`). What lives in the database (changes by state, the outbox) is read when /metrics is
scraped (`refresh`), so every replica reports the same figures: alert on their `max`.

The README's *Metrics* table lists every family here; a test reads that table and scrapes /metrics for each.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

# No `_created` series beside each counter and histogram: nothing here alerts on them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

SLACK_REQUESTS = Counter(
    "rtcops_slack_requests",
    "Slack requests handled, by type (command, block_actions, view_submission, event_callback, "
    "…) and outcome (ok, error, refused: failed the request guard)",
    ["type", "outcome"],
)
SLACK_ACK_SECONDS = Histogram(
    "rtcops_slack_ack_seconds", "From a Slack request's arrival to its acknowledgement", ["type"], buckets=_FAST
)
PROVIDER_CALLS = Counter(
    "rtcops_provider_calls",
    "Provider HTTP attempts, by provider, action and result code (OK, or the provider's or rtcops' error code)",
    ["provider", "action", "code"],
)
PROVIDER_CALL_SECONDS = Histogram(
    "rtcops_provider_call_seconds",
    "One provider HTTP attempt, sent to answered (pacing excluded)",
    ["provider", "action"],
    buckets=_FAST,
)
PACING_WAIT_SECONDS = Histogram(
    "rtcops_pacing_wait_seconds", "Time a provider call waited for its pacing slot", ["provider", "action"], buckets=_FAST
)
CHANGE_TRANSITIONS = Counter("rtcops_change_transitions", "Moves of change requests into a state, by this process", ["state"])
CHANGES = Gauge("rtcops_changes", "Change requests in each state (read from the database at scrape)", ["state"])
CHANGE_OLDEST_OPEN_SECONDS = Gauge(
    "rtcops_change_oldest_open_seconds",
    "Age of the oldest request in each open state (pending: since proposed; approved: "
    "since approved; applying: since the apply began); 0 when none",
    ["state"],
)
APPROVAL_TO_VERDICT_SECONDS = Histogram(
    "rtcops_change_approval_to_verdict_seconds",
    "From approval to a verdict (applied, failed, unknown)",
    ["state"],
    buckets=_SLOW,
)
OUTBOX_DEPTH = Gauge("rtcops_outbox_depth", "Notices not yet delivered, by where they go (slack, audit_webhook)", ["sink"])
OUTBOX_AGE_SECONDS = Gauge(
    "rtcops_outbox_oldest_age_seconds", "Age of the oldest notice not yet delivered, by sink; 0 when none", ["sink"]
)
INCIDENTS_OPEN = Gauge("rtcops_incidents_open", "Incidents open (set by the watcher; 0 without it)")
SCHEDULER_LAG_SECONDS = Histogram(
    "rtcops_scheduler_lag_seconds", "How late a periodic job's timed run started after it was due", ["job"], buckets=_FAST
)
SCHEDULER_RUNS = Counter(
    "rtcops_scheduler_runs", "Runs of each periodic job, by what started them (timer, signal)", ["job", "trigger"]
)
LEASE_HELD = Gauge("rtcops_lease_held", "1 while this replica owns the job's lease (runs its timed part), else 0", ["job"])
AUDIT_WEBHOOK_DELIVERIES = Counter(
    "rtcops_audit_webhook_deliveries", "Audit events posted to RTCOPS_AUDIT_WEBHOOK, by outcome (ok, retry)", ["outcome"]
)
READY = Gauge("rtcops_ready", "1 when the last /readyz found every part ready, else 0")

OPEN_STATES = ("pending", "approved", "applying")


def refresh(
    *,
    changes: Mapping[str, int],
    oldest_open: Mapping[str, float],
    outbox: Mapping[str, tuple[int, float]],
    states: tuple[str, ...],
) -> None:
    """Sets the gauges read from the database; a state or sink with nothing in it reads 0, not absent."""
    for state in states:
        CHANGES.labels(state).set(changes.get(state, 0))
    for state in OPEN_STATES:
        CHANGE_OLDEST_OPEN_SECONDS.labels(state).set(oldest_open.get(state, 0.0))
    for sink in ("slack", "audit_webhook"):
        depth, age = outbox.get(sink, (0, 0.0))
        OUTBOX_DEPTH.labels(sink).set(depth)
        OUTBOX_AGE_SECONDS.labels(sink).set(age)


def exposition() -> tuple[bytes, str]:
    """The text format and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
