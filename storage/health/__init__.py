"""The community-health metrics as SQL aggregates, the same on SQLite and PostgreSQL: one
module per dashboard page (overview, onboarding, mentorship, recognition, retention, campaigns,
at_risk), the gauges of /metrics, and what they share (sql, types)."""
