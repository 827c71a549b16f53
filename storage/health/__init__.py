"""The community-health metrics as SQL aggregates, the same on SQLite and PostgreSQL: one
module per dashboard page (overview, onboarding, mentorship, recognition, retention, campaigns,
at_risk), the gauges of /metrics, and what they share (sql, periods, types)."""

from storage.health.at_risk import at_risk
from storage.health.campaigns import campaigns
from storage.health.gauges import gauges
from storage.health.mentorship import mentorship
from storage.health.onboarding import onboarding
from storage.health.overview import overview
from storage.health.recognition import recognition
from storage.health.retention import retention

__all__ = [
    "at_risk",
    "campaigns",
    "gauges",
    "mentorship",
    "onboarding",
    "overview",
    "recognition",
    "retention",
]
