"""Matching newcomers with mentors: scores that explain themselves, hard constraints, and a
batch optimizer over everyone waiting.

A pair's score is a weighted sum of criteria, each between 0 and 1, with weights from
`content/matching.yaml`:
- **topics**: the share of the newcomer's interests the mentor can help with;
- **timezone**: the hours both can meet (the mentor's weekly window and the newcomer's, both
  in their own zones, compared in UTC on the day of matching, so summer time counts), up to
  `full_overlap_hours`;
- **language**: whether they share a language;
- **experience**: whether the mentor has more experience than the newcomer (both having said:
  an unknown level counts for nothing).

A pair's reasons (what an offer tells the mentor) are only what is known to hold: languages both
speak, hours both are around (only when both gave a time zone), shared topics, and "new to open
source, and you know your way around" only for a newcomer whose answer means `new` and a mentor
whose answer means `experienced` (the levels of `content/matching.yaml`).

Some pairs are never proposed (`excluded`): a mentor with themself, paused or full; a pair
declined before; and whatever criterion the content makes a hard constraint (by default a
shared language).

`optimize` assigns everyone waiting at once, maximising the total score within each mentor's
capacity: a min-cost flow (OR-Tools) over each newcomer's best candidates and each mentor's
best candidates. Scoring is vectorised with numpy (`score_table.py`), so 10,000 newcomers
and 1,000 mentors (ten million pairs) are scored in well under a second; `bench/matching.py`
compares the result with an exact solve over every pair.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.mentorship.score_table import CRITERIA, SCALE, ScoreTable, part_of_day, shared_slots
from flows.feature_settings import Matching

# numpy and OR-Tools are imported by the functions that score and solve: every process that
# loads the features (a content check too) would otherwise pay for them.
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# Experience levels, as `content/matching.yaml` maps the flows' answers to them.
NEW, SOME, EXPERIENCED = 0, 1, 2


@dataclass(frozen=True)
class Rules:
    """How pairs are scored, from `content/matching.yaml`."""

    weights: dict[str, float] = field(
        default_factory=lambda: {"topics": 3.0, "timezone": 2.0, "language": 2.0, "experience": 1.0}
    )
    hard: frozenset[str] = frozenset({"language"})  # a pair without it is never proposed
    full_overlap_hours: float = 3.0  # this many hours together scores the whole weight
    min_overlap_hours: float = 1.0  # with "timezone" hard: at least this many
    newcomer_hours: tuple[int, int] = (9, 21)  # a newcomer who has not said when they can meet
    candidates: int = 24  # per newcomer and per mentor capacity slot, for the batch optimizer

    @classmethod
    def from_content(cls, matching: Matching) -> Rules:
        """The rules `content/matching.yaml` states."""
        return cls(
            weights=matching.weights.model_dump(),
            hard=frozenset(matching.hard),
            full_overlap_hours=matching.full_overlap_hours,
            min_overlap_hours=matching.min_overlap_hours,
            newcomer_hours=matching.newcomer_hours,
            candidates=matching.candidates,
        )


@dataclass(frozen=True)
class Person:
    """A newcomer asking for a mentor, or a mentor; `topics` are interests for a newcomer."""

    id: int
    languages: frozenset[str]
    topics: frozenset[str]
    timezone: str | None = "UTC"  # None: never said (counted as UTC, never given as a reason)
    hours: tuple[int, int] | None = None  # local hours [start, end) they can meet; may wrap
    experience: int | None = NEW  # NEW, SOME or EXPERIENCED; None: never said

    @property
    def zone(self) -> str:
        return self.timezone or "UTC"


@dataclass(frozen=True)
class Mentor(Person):
    capacity: int = 1  # mentees at once
    load: int = 0  # mentees now
    paused: bool = False

    @property
    def room(self) -> int:
        return 0 if self.paused else max(0, self.capacity - self.load)


@dataclass(frozen=True)
class Reason:
    """One thing a pair has going for it, for the offer's "why this pair"."""

    criterion: str
    shared: tuple[str, ...] = ()  # languages or topics
    hours: float = 0.0  # of overlap
    part_of_day: str = ""  # the newcomer's: morning, afternoon, evening, night


@dataclass(frozen=True)
class Score:
    total: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Pair:
    newcomer: int
    mentor: int
    score: float


def excluded(
    newcomer: Person,
    mentor: Mentor,
    rules: Rules,
    declined: Collection[tuple[int, int]] = (),
    when: datetime | None = None,
) -> str | None:
    """Why this pair may not be proposed, or None."""
    if newcomer.id == mentor.id:
        return "self"
    if mentor.paused:
        return "paused"
    if mentor.room <= 0:
        return "full"
    if (newcomer.id, mentor.id) in declined:
        return "declined"
    if "language" in rules.hard and not newcomer.languages & mentor.languages:
        return "no_shared_language"
    if "topics" in rules.hard and not newcomer.topics & mentor.topics:
        return "no_shared_topic"
    if "timezone" in rules.hard:
        both = shared_slots(newcomer, mentor, rules, when or datetime.now(UTC))
        if both.bit_count() / 2 < rules.min_overlap_hours:
            return "too_little_overlap"
    return None


def score(newcomer: Person, mentor: Mentor, rules: Rules, when: datetime | None = None) -> Score:
    """The pair's score and its reasons (whether or not the pair is allowed)."""
    when = when or datetime.now(UTC)
    table = ScoreTable.of([newcomer], [mentor], rules, when)
    parts = table.criteria(slice(0, 1))
    total = float(sum(rules.weights.get(c, 0.0) * parts[c][0, 0] for c in CRITERIA))
    reasons: list[Reason] = []
    if languages := newcomer.languages & mentor.languages:
        reasons.append(Reason("language", shared=tuple(sorted(languages))))
    both = shared_slots(newcomer, mentor, rules, when)
    if both and newcomer.timezone and mentor.timezone:
        mostly = part_of_day(both, newcomer.zone, when)
        reasons.append(Reason("timezone", hours=both.bit_count() / 2, part_of_day=mostly))
    if topics := newcomer.topics & mentor.topics:
        reasons.append(Reason("topics", shared=tuple(sorted(topics))))
    if newcomer.experience == NEW and mentor.experience == EXPERIENCED:
        reasons.append(Reason("experience"))
    return Score(round(total, 3), tuple(reasons))


def best(
    newcomer: Person,
    mentors: Sequence[Mentor],
    rules: Rules,
    declined: Collection[tuple[int, int]] = (),
    when: datetime | None = None,
) -> tuple[Mentor, Score] | None:
    """The best allowed mentor for one newcomer now (an instant offer), or None. Scored like
    the batch, all mentors at once; ties go to the mentor with more room, then the lower id,
    so offers spread and are reproducible."""
    if not mentors:  # before numpy: a community without mentors never loads it
        return None
    import numpy as np

    when = when or datetime.now(UTC)
    table = ScoreTable.of([newcomer], mentors, rules, when)
    gain = table.gains(slice(0, 1), _declined_index(declined, [newcomer], mentors))[0]
    allowed = [int(j) for j in np.nonzero(gain >= 0)[0]]
    if not allowed:
        return None
    chosen = mentors[max(allowed, key=lambda j: (gain[j], mentors[j].room, -mentors[j].id))]
    return chosen, score(newcomer, chosen, rules, when)


def optimize(
    newcomers: Sequence[Person],
    mentors: Sequence[Mentor],
    rules: Rules,
    declined: Iterable[tuple[int, int]] = (),
    when: datetime | None = None,
    exhaustive: bool = False,
    seniority: bool = False,
) -> list[Pair]:
    """Assign newcomers to mentors within each mentor's room, maximising the total score over
    allowed pairs; a newcomer may stay unassigned (no room, or no allowed mentor). With
    `seniority`, among assignments of the same total, newcomers earlier in the list (those
    waiting longest) go first; the total is never traded for it. With
    `exhaustive`, every allowed pair is a candidate (the exact solve the benchmark checks
    against); otherwise each newcomer's best `rules.candidates` mentors, and each mentor's
    best `rules.candidates` newcomers per place they have."""
    if not newcomers or not mentors:  # before numpy, as in `best`
        return []
    import numpy as np

    when = when or datetime.now(UTC)
    table = ScoreTable.of(newcomers, mentors, rules, when)
    blocked = _declined_index(declined, newcomers, mentors)
    tails: list[NDArray[np.int64]] = []
    heads: list[NDArray[np.int64]] = []
    gains: list[NDArray[np.int64]] = []
    n, m = len(newcomers), len(mentors)
    k = min(m, rules.candidates)
    room = table.room
    mentor_keep = np.minimum(n, np.maximum(room, 1) * rules.candidates)
    # Per mentor, the best scores seen so far and who had them (the mentor side's candidates).
    best_of_mentor = np.full((max(1, int(mentor_keep.max())), m), -1, dtype=np.int64)
    best_who = np.full(best_of_mentor.shape, -1, dtype=np.int64)
    chunk = max(1, 2_000_000 // m)
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        gain = table.gains(rows, blocked)  # -1 where not allowed
        if exhaustive:
            r, c = np.nonzero(gain >= 0)
        else:
            top = (
                np.argpartition(-gain, k - 1, axis=1)[:, :k]
                if k < m
                else np.tile(np.arange(m), (gain.shape[0], 1))
            )
            r = np.repeat(np.arange(gain.shape[0]), top.shape[1])
            c = top.ravel()
            keep = gain[r, c] >= 0
            r, c = r[keep], c[keep]
            best_of_mentor, best_who = _merge_mentor_best(best_of_mentor, best_who, gain, start)
        tails.append(r + start)
        heads.append(c)
        gains.append(gain[r, c])
    if not exhaustive:
        depth = np.arange(best_of_mentor.shape[0])[:, None] < mentor_keep[None, :]
        valid = (best_of_mentor >= 0) & depth
        rr, cc = np.nonzero(valid)
        tails.append(best_who[rr, cc])
        heads.append(cc)
        gains.append(best_of_mentor[rr, cc])
    tail = np.concatenate(tails)
    head = np.concatenate(heads)
    gain = np.concatenate(gains)
    if not exhaustive:  # the two sides' candidates overlap: each pair once
        unique = np.unique(tail * m + head, return_index=True)[1]
        tail, head, gain = tail[unique], head[unique], gain[unique]
    return _solve(tail, head, gain, room, newcomers, mentors, seniority)


def _merge_mentor_best(
    best: NDArray[np.int64], who: NDArray[np.int64], gain: NDArray[np.int64], start: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    import numpy as np

    depth = best.shape[0]
    rows = gain.shape[0]
    keep = min(depth, rows)
    top = (
        np.argpartition(-gain, keep - 1, axis=0)[:keep]
        if keep < rows
        else np.arange(rows)[:, None].repeat(gain.shape[1], 1)
    )
    top_gain = np.take_along_axis(gain, top, axis=0)
    merged_gain = np.concatenate([best, top_gain])
    merged_who = np.concatenate([who, top + start])
    order = np.argsort(-merged_gain, axis=0, kind="stable")[:depth]
    return np.take_along_axis(merged_gain, order, 0), np.take_along_axis(merged_who, order, 0)


def _solve(
    tail: NDArray[np.int64],
    head: NDArray[np.int64],
    gain: NDArray[np.int64],
    room: NDArray[np.int64],
    newcomers: Sequence[Person],
    mentors: Sequence[Mentor],
    seniority: bool = False,
) -> list[Pair]:
    """Min-cost flow: source → newcomer (1) → mentor (1 per pair, cost −gain) → sink (room);
    and newcomer → sink at no gain, for whoever stays unassigned. With `seniority`, each
    gain is scaled past the largest possible sum of bonuses (n − index per assigned
    newcomer), so the bonus only ever breaks ties in the total."""
    import numpy as np
    from ortools.graph.python import min_cost_flow

    n, m = len(newcomers), len(mentors)
    source, sink = n + m, n + m + 1
    newcomer_nodes = np.arange(n, dtype=np.int64)
    mentor_nodes = np.arange(n, n + m, dtype=np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    pairs_from = len(newcomer_nodes)
    tails = np.concatenate([np.full(n, source), tail, mentor_nodes, newcomer_nodes])
    heads = np.concatenate([newcomer_nodes, head + n, np.full(m, sink), np.full(n, sink)])
    capacities = np.concatenate([np.ones(n), np.ones(len(tail)), room, np.ones(n)]).astype(np.int64)
    pair_cost = -gain
    if seniority:
        pair_cost = -(gain * (n * (n + 1) // 2 + 1) + (n - tail))
    costs = np.concatenate([np.zeros(n), pair_cost, np.zeros(m), np.zeros(n)]).astype(np.int64)
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(n + m + 2, dtype=np.int64)
    supplies[source], supplies[sink] = n, -n
    flow.set_nodes_supplies(np.arange(n + m + 2), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"matching: the flow solver stopped with status {status}")
    used = flow.flows(arcs[pairs_from : pairs_from + len(tail)])
    chosen = np.nonzero(used > 0)[0]
    return [
        Pair(newcomers[int(tail[i])].id, mentors[int(head[i])].id, int(gain[i]) / SCALE)
        for i in chosen
    ]


def _declined_index(
    declined: Iterable[tuple[int, int]], newcomers: Sequence[Person], mentors: Sequence[Mentor]
) -> dict[int, list[int]]:
    """Declined pairs as row → columns of the score table."""
    row = {p.id: i for i, p in enumerate(newcomers)}
    column = {p.id: j for j, p in enumerate(mentors)}
    index: dict[int, list[int]] = {}
    for newcomer, mentor in declined:
        if newcomer in row and mentor in column:
            index.setdefault(row[newcomer], []).append(column[mentor])
    return index
