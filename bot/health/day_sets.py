"""Keeping the health metrics' day sets stored (storage/health/daysets.py): the running bot's
hourly job, `onramp report` and `onramp dashboard` store every closed day's sets first."""

from __future__ import annotations

import logging
from datetime import datetime

from storage.health import daysets
from storage.session import Database

log = logging.getLogger(__name__)


async def fill(db: Database, now: datetime, onboarding_flow: str) -> int:
    """Store every closed day's summaries not stored yet (the funnel's, of the content's
    `onboarding_flow`); how many days were stored."""
    total = await daysets.fill(db, now, onboarding_flow=onboarding_flow)
    if total:
        log.info("health day sets stored", extra={"days": total})
    return total
