"""The managers' dashboard: server-rendered pages of the community-health metrics, charts as
SVG made on the server, each chart's figures as a table and a CSV, in the reader's language.
`routes(onramp)` is what the web app serves under /dashboard."""

from bot.health.dashboard.web import routes

__all__ = ["routes"]
