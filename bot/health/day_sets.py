"""Keeping the health metrics' day sets stored (storage/health/daysets.py): the running bot's
hourly job, `onramp report` and `onramp dashboard` store every closed day's sets first."""

from __future__ import annotations

import logging
from datetime import datetime

from storage.health import daysets
from storage.session import Database

log = logging.getLogger(__name__)


async def fill(db: Database, now: datetime) -> int:
    """Store every closed day's sets not stored yet; how many days were stored."""
    total = await daysets.fill(db, now)
    if total:
        log.info("health day sets stored", extra={"days": total})
    return total
