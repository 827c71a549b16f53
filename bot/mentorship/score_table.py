"""The matcher's score table: everyone's languages, topics and meeting hours as bit masks,
so that every pair of newcomers and mentors is scored at once with numpy (`bot/mentorship/
matching.py` scores, filters and assigns with it). Hours are compared as the day's UTC half
hours on the day of matching, so summer time counts and zones a half hour off UTC are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    # numpy is imported where a table is built or read: matching.py imports this module (for
    # the hours helpers below) wherever the features load, and most processes never score.
    import numpy as np
    from numpy.typing import NDArray

    # matching.py imports this module; these are only its annotations' types
    from bot.mentorship.matching import Mentor, Person, Rules

CRITERIA = ("topics", "timezone", "language", "experience")
UNKNOWN = -1  # in the score table: never said
SCALE = 1000  # scores are whole thousandths in the flow's integer costs
SLOTS = 48  # half hours of a day: zones a half hour off UTC (India) count exactly
MAX_WORDS = 64  # languages, and topics, each fit in one 64-bit mask


@dataclass
class ScoreTable:
    """Everyone's languages, topics and hours as bit masks, to score many pairs at once."""

    rules: Rules
    n_languages: NDArray[np.uint64]
    n_topics: NDArray[np.uint64]
    n_topic_count: NDArray[np.int64]
    n_slots: NDArray[np.uint64]
    n_experience: NDArray[np.int64]
    n_ids: NDArray[np.int64]
    m_languages: NDArray[np.uint64]
    m_topics: NDArray[np.uint64]
    m_slots: NDArray[np.uint64]
    m_experience: NDArray[np.int64]
    m_ids: NDArray[np.int64]
    room: NDArray[np.int64]

    @classmethod
    def of(
        cls, newcomers: Sequence[Person], mentors: Sequence[Mentor], rules: Rules, when: datetime
    ) -> ScoreTable:
        import numpy as np

        languages = _Vocabulary("languages")
        topics = _Vocabulary("topics")
        slots = _SlotCache(rules, when)
        return cls(
            rules=rules,
            n_languages=languages.masks(p.languages for p in newcomers),
            n_topics=topics.masks(p.topics for p in newcomers),
            n_topic_count=np.array([len(p.topics) for p in newcomers], dtype=np.int64),
            n_slots=np.array([slots.of(p, newcomer=True) for p in newcomers], dtype=np.uint64),
            n_experience=_levels(newcomers),
            n_ids=np.array([p.id for p in newcomers], dtype=np.int64),
            m_languages=languages.masks(p.languages for p in mentors),
            m_topics=topics.masks(p.topics for p in mentors),
            m_slots=np.array([slots.of(p, newcomer=False) for p in mentors], dtype=np.uint64),
            m_experience=_levels(mentors),
            m_ids=np.array([p.id for p in mentors], dtype=np.int64),
            room=np.array([p.room for p in mentors], dtype=np.int64),
        )

    def criteria(self, rows: slice) -> dict[str, NDArray[np.float64]]:
        """Each criterion, 0 to 1, for these newcomers against every mentor; and the hours
        of overlap themselves ("overlap_hours", for the timezone constraint)."""
        import numpy as np

        shared_topics = np.bitwise_count(self.n_topics[rows, None] & self.m_topics[None, :])
        overlap = np.bitwise_count(self.n_slots[rows, None] & self.m_slots[None, :]) / 2
        return {
            "overlap_hours": overlap,
            "topics": shared_topics / np.maximum(1, self.n_topic_count[rows, None]),
            "timezone": np.minimum(1.0, overlap / self.rules.full_overlap_hours),
            "language": ((self.n_languages[rows, None] & self.m_languages[None, :]) != 0).astype(
                np.float64
            ),
            "experience": (
                (self.m_experience[None, :] > self.n_experience[rows, None])
                & (self.n_experience[rows, None] != UNKNOWN)
            ).astype(np.float64),
        }

    def gains(self, rows: slice, declined: dict[int, list[int]]) -> NDArray[np.int64]:
        """Integer scores (thousandths) for these newcomers against every mentor; -1 where
        the pair is not allowed."""
        import numpy as np

        parts = self.criteria(rows)
        total = sum(self.rules.weights.get(c, 0.0) * parts[c] for c in CRITERIA)
        gain = np.rint(np.asarray(total) * SCALE).astype(np.int64)
        allowed = (self.room > 0)[None, :] & (self.n_ids[rows, None] != self.m_ids[None, :])
        if "language" in self.rules.hard:
            allowed &= parts["language"] > 0
        if "topics" in self.rules.hard:
            allowed &= parts["topics"] > 0
        if "timezone" in self.rules.hard:
            allowed &= parts["overlap_hours"] >= self.rules.min_overlap_hours
        first = rows.start or 0
        for row in range(first, rows.stop):
            for column in declined.get(row, ()):
                allowed[row - first, column] = False
        return np.where(allowed, gain, -1)


def _levels(people: Sequence[Person]) -> NDArray[np.int64]:
    import numpy as np

    return np.array(
        [UNKNOWN if p.experience is None else p.experience for p in people], dtype=np.int64
    )


class _Vocabulary:
    def __init__(self, what: str) -> None:
        self.what = what
        self.bits: dict[str, int] = {}

    def masks(self, sets: Iterable[frozenset[str]]) -> NDArray[np.uint64]:
        import numpy as np

        return np.array([self.mask(values) for values in sets], dtype=np.uint64)

    def mask(self, values: frozenset[str]) -> int:
        mask = 0
        for value in values:
            if value not in self.bits:
                if len(self.bits) >= MAX_WORDS:
                    raise ValueError(f"matching: more than {MAX_WORDS} different {self.what}")
                self.bits[value] = len(self.bits)
            mask |= 1 << self.bits[value]
        return mask


class _SlotCache:
    """A person's meeting hours as a mask of the day's UTC half hours, on the day of matching
    (zones and windows repeat, so each is worked out once)."""

    def __init__(self, rules: Rules, when: datetime) -> None:
        self.rules = rules
        self.when = when
        self._cache: dict[tuple[str, tuple[int, int]], int] = {}

    def of(self, person: Person, newcomer: bool) -> int:
        hours = person.hours or (self.rules.newcomer_hours if newcomer else None)
        if hours is None:
            return 0
        key = (person.zone, hours)
        if key not in self._cache:
            self._cache[key] = _utc_slots(person.zone, hours, self.when)
        return self._cache[key]


def _shift(timezone: str, when: datetime) -> int:
    """The zone's offset from UTC on that day, in half hours."""
    offset = when.astimezone(ZoneInfo(timezone)).utcoffset()
    return round((offset.total_seconds() if offset else 0) / 1800)


def _utc_slots(timezone: str, hours: tuple[int, int], when: datetime) -> int:
    shift = _shift(timezone, when)
    start, end = hours
    length = (end - start) % 24 or 24
    mask = 0
    for half in range(2 * length):
        mask |= 1 << ((2 * start + half - shift) % SLOTS)
    return mask


def shared_slots(newcomer: Person, mentor: Mentor, rules: Rules, when: datetime) -> int:
    """The UTC half hours both can meet, as a mask."""
    slots = _SlotCache(rules, when)
    return slots.of(newcomer, True) & slots.of(mentor, False)


def part_of_day(both: int, timezone: str, when: datetime) -> str:
    """When, in the newcomer's own day (`timezone`), most of the overlap `both` falls."""
    shift = _shift(timezone, when)
    parts = {"night": 0, "morning": 0, "afternoon": 0, "evening": 0}
    for half in range(SLOTS):
        if both >> half & 1:
            local_hour = ((half + shift) % SLOTS) // 2
            parts[_PARTS[local_hour]] += 1
    return max(parts, key=lambda part: parts[part])


_PARTS = ["night"] * 6 + ["morning"] * 6 + ["afternoon"] * 6 + ["evening"] * 6
