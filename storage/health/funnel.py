"""The onboarding funnel's counts, read from the rows: for the members who joined in some
stretches of time, how many reached each step (`FUNNEL_STEPS`) and how many of each step's
members also reached the next. The Onboarding page sums them over its period
(storage/health/onboarding.py); the day summaries (storage/health/daysets.py, Kind.FUNNEL)
keep them per closed day of joining, so a period's funnel is a sum of a few hundred small
counts instead of a pass over every member who joined in it.

A step is reached at any time before `end` (or at all, for a day summary): consented (said
yes), onboarded (a first finish of the onboarding flow: `flow_milestone`), asked for a mentor,
matched, first contribution (a live kudos received), and retained (active in 2 of the 4 weeks
after onboarding, known by the day `end` falls in).

A day's summary counts what its members had reached when it was read; it also keeps the
latest moment among what it counted (`last_at`, and `last_retained` for the day-granular
retention), so that it answers for any period that ends after that moment. Every later change
to a member's milestones drops the summary of the day they joined (storage/activity.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from storage.health import sql
from storage.health.types import FUNNEL_STEPS
from storage.models import FlowMilestone, Member

M: Any = Member.__table__  # type: ignore[attr-defined]
FINISHED: Any = FlowMilestone.__table__  # type: ignore[attr-defined]
PAIRS = list(pairwise(FUNNEL_STEPS))


@dataclass(frozen=True)
class Counts:
    """Each step's members, and of each step's members how many also reached the next."""

    members: tuple[int, ...] = (0,) * len(FUNNEL_STEPS)
    carried: tuple[int, ...] = (0,) * len(PAIRS)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            tuple(a + b for a, b in zip(self.members, other.members, strict=True)),
            tuple(a + b for a, b in zip(self.carried, other.carried, strict=True)),
        )

    def as_json(self) -> dict[str, list[int]]:
        return {"members": list(self.members), "carried": list(self.carried)}

    @classmethod
    def from_json(cls, found: dict[str, Any]) -> Counts:
        return cls(tuple(found["members"]), tuple(found["carried"]))


def _reached(end: datetime | None) -> dict[str, ColumnElement[bool]]:
    """Each step's condition on a member row joined to their onboarding flow's milestone:
    reached before `end`, or at all when `end` is None."""

    def before(column: Any) -> ColumnElement[bool]:
        reached: ColumnElement[bool] = column.is_not(None) if end is None else column < end
        return reached

    consented = M.c.consent.is_(True)
    if end is not None:
        consented = and_(consented, or_(M.c.consent_at.is_(None), M.c.consent_at < end))
    onboarded = before(FINISHED.c.finished_at)
    retained = (
        FINISHED.c.retained_on.is_not(None)
        if end is None
        else FINISHED.c.retained_on <= sql.last_day(end)
    )
    return {
        "joined": true(),
        "consented": consented,
        "onboarded": onboarded,
        "asked_mentor": before(M.c.mentor_requested_at),
        "matched": before(M.c.first_matched_at),
        "first_contribution": before(M.c.first_kudos_at),
        # Active in 2 of the 4 weeks after onboarding, with the days known by `end`.
        "retained": and_(onboarded, retained),
    }


def _columns(end: datetime | None) -> list[Any]:
    reached = _reached(end)
    columns = [func.count(case((reached[key], 1))) for key in FUNNEL_STEPS]
    columns += [func.count(case((and_(reached[a], reached[b]), 1))) for a, b in PAIRS]
    return columns


def _cohort(onboarding_flow: str) -> Any:
    return M.outerjoin(
        FINISHED, and_(FINISHED.c.member_id == M.c.id, FINISHED.c.flow_id == onboarding_flow)
    )


def _counts(row: Sequence[Any]) -> Counts:
    values = [int(value or 0) for value in row]
    return Counts(tuple(values[: len(FUNNEL_STEPS)]), tuple(values[len(FUNNEL_STEPS) :]))


async def counts(
    session: Any,
    onboarding_flow: str,
    joined: Sequence[tuple[datetime, datetime]],
    end: datetime,
    *where: Any,
) -> Counts:
    """The funnel of the members who joined in any of the `[low, high)` stretches `joined`
    (and meet `where`: the filters' scope), each step reached before `end`."""
    if not joined:
        return Counts()
    when = or_(*(and_(M.c.created_at >= low, M.c.created_at < high) for low, high in joined))
    statement = select(*_columns(end)).select_from(_cohort(onboarding_flow)).where(when, *where)
    return _counts((await session.execute(statement)).one())


@dataclass(frozen=True)
class Day:
    """One day of joining's funnel as a day summary holds it: the counts of what its members
    had reached when it was read, for the onboarding flow `flow`, and the latest moment among
    what it counted (a period that ends after both may use it)."""

    flow: str
    counts: Counts
    last_at: datetime | None
    last_retained: date | None

    def answers(self, onboarding_flow: str, end: datetime) -> bool:
        """Whether these counts are the funnel of the day's members at `end`: the same flow,
        and everything counted reached before `end`."""
        if self.flow != onboarding_flow:
            return False
        if self.last_at is not None and self.last_at >= end:
            return False
        return self.last_retained is None or self.last_retained <= sql.last_day(end)

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            **self.counts.as_json(),
            "last_at": None if self.last_at is None else self.last_at.isoformat(),
            "last_retained": None if self.last_retained is None else self.last_retained.isoformat(),
        }

    @classmethod
    def from_json(cls, found: dict[str, Any]) -> Day:
        last_at, last_retained = found.get("last_at"), found.get("last_retained")
        return cls(
            found["flow"],
            Counts.from_json(found),
            None if last_at is None else datetime.fromisoformat(last_at),
            None if last_retained is None else date.fromisoformat(last_retained),
        )


async def by_day(
    session: Any, onboarding_flow: str, low: datetime, high: datetime, dialect: str
) -> dict[date, Day]:
    """The funnel of each day of joining in `[low, high)` (days with nobody left out), every
    step reached at all, with the latest moment each day's counts hold."""
    joined = sql.day_of(M.c.created_at, dialect)
    consent_at = case((M.c.consent.is_(True), M.c.consent_at))
    latest = [
        func.max(column)
        for column in (
            consent_at,
            FINISHED.c.finished_at,
            M.c.mentor_requested_at,
            M.c.first_matched_at,
            M.c.first_kudos_at,
        )
    ]
    statement = (
        select(joined, *_columns(None), *latest, func.max(FINISHED.c.retained_on))
        .select_from(_cohort(onboarding_flow))
        .where(M.c.created_at >= low, M.c.created_at < high)
        .group_by(joined)
    )
    found: dict[date, Day] = {}
    width = len(FUNNEL_STEPS) + len(PAIRS)
    for row in await session.execute(statement):
        day, values, moments = row[0], row[1 : 1 + width], row[1 + width : -1]
        times = [sql.as_utc(moment) for moment in moments if moment is not None]
        retained = row[-1]
        found[sql.as_date(day)] = Day(
            onboarding_flow,
            _counts(values),
            max(times) if times else None,
            None if retained is None else sql.as_date(retained),
        )
    return found
