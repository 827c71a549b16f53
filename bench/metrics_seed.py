"""The community `bench/metrics.py` measures: a year of a large community, seeded with bulk
Core inserts (executemany in big batches, never the ORM) and a seeded random.Random, so two
runs with the same numbers hold the same rows.

Members join over the year, more of them lately; most finish onboarding, some stall at a
question or let their run expire; a quarter of those who finish ask for a mentor, wait, are
offered one or two mentors who decline or let the offer lapse, and are matched; mentorships
last eight weeks with a check-in for each person every two weeks. Activity decays: a newcomer
is active on the day they join and then less and less often, a few stay active all year. Kudos
go mostly to a few members (a long tail), across the recognition categories; badges follow
them. Four campaigns reach most members, one of them a survey some answer.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import Table, insert, text

from storage import models, tallies
from storage.activity import rebuild
from storage.migrate import upgrade
from storage.session import Database

NOW = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)  # "now" for every page: the year's end
YEAR = timedelta(days=365)
START = NOW - YEAR
PLATFORMS = ("slack", "telegram", "zulip", "whatsapp")
LOCALES = {"en": 40, "fr": 15, "es": 15, "pt": 12, "ar": 10, "sw": 8}
CATEGORIES = {
    "code": 30,
    "docs": 15,
    "helping": 15,
    "translation": 10,
    "design": 6,
    "testing": 6,
    "data": 5,
    "outreach": 5,
    "mentoring": 4,
    "organizing": 2,
    "fundraising": 2,
}
# The onboarding flow's questions, in order (content/flows/onboarding.yaml).
ASKS = [
    "language",
    "consent",
    "timezone",
    "interests",
    "announcements",
    "experience",
    "start_here",
    "mentor",
]
MANAGERS = 5
MENTORS_PER_MEMBER = 0.01  # 1,000 mentors at 100,000 members
BATCH = 20_000
DAY = timedelta(days=1)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


@dataclass
class Writer:
    """Rows buffered per table and inserted BATCH at a time. Flushing a table first flushes
    the tables that got rows before it, so foreign keys always find their row."""

    db: Database
    buffers: dict[str, tuple[Table, list[dict[str, Any]]]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    async def add(self, model: Any, row: dict[str, Any]) -> None:
        table = _table(model)
        rows = self.buffers.setdefault(table.name, (table, []))[1]
        rows.append(row)
        if len(rows) >= BATCH:
            await self.flush(table.name)

    async def flush(self, upto: str | None = None) -> None:
        for name, (table, rows) in self.buffers.items():
            if rows:
                async with self.db.transaction() as session:
                    await session.execute(insert(table), rows)
                self.counts[name] += len(rows)
                rows.clear()
            if name == upto:
                return


@dataclass
class Joiner:
    id: int
    created: datetime
    platform: str
    locale: str
    consent: bool = False
    opted_out: bool = False
    finished: datetime | None = None  # onboarding completed
    stalled: bool = False  # a run left active, paused or expired
    wants_mentor: bool = False


class Community:
    """Generates and inserts the rows; `await seed()` returns the row counts."""

    def __init__(self, db: Database, members: int, kudos: int, platforms: int) -> None:
        self.rng = random.Random(18)
        self.out = Writer(db)
        self.members, self.kudos, self.platforms = members, kudos, PLATFORMS[:platforms]
        self.joiners: list[Joiner] = []
        self.ids: Counter[str] = Counter()  # the last id given, per table
        self.staff = MANAGERS + max(1, round(members * MENTORS_PER_MEMBER))

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def when(self, start: datetime, mean_seconds: float) -> datetime:
        """A moment after `start`, an exponential wait of that mean away, never after NOW."""
        return min(NOW, start + timedelta(seconds=self.rng.expovariate(1 / mean_seconds)))

    async def seed(self) -> Counter[str]:
        await self._members()
        await self._mentoring()
        await self._recognition()
        await self._campaigns()
        await self.out.flush()
        return self.out.counts

    async def _members(self) -> None:
        """Each member with their identities, their onboarding run and its answers, and the
        days they were active."""
        rng = self.rng
        # More members join lately: the density of joining grows linearly over the year.
        offsets = sorted(math.sqrt(rng.random()) for _ in range(self.members))
        locales = rng.choices(list(LOCALES), weights=list(LOCALES.values()), k=self.members)
        for n, (offset, locale) in enumerate(zip(offsets, locales, strict=True), start=1):
            created = START + YEAR * offset
            staff = n <= self.staff
            if staff:  # managers and mentors were there before the year began
                created = START - timedelta(days=30) + timedelta(minutes=n)
            j = Joiner(n, created, rng.choice(self.platforms), locale, consent=staff)
            j.opted_out = rng.random() < 0.02
            self.joiners.append(j)
            answers = [] if staff else self._onboarding_answers(j)
            days = self._active_days(j, steady=staff)
            await self.out.add(
                models.Member,
                {
                    "id": n,
                    "display_name": f"Member {n}",
                    "locale": locale,
                    "timezone": None,
                    "roles": ["manager"] if n <= MANAGERS else [],
                    "profile": {},
                    "consent": True if j.consent else None,
                    "consent_at": next((at for step, _, at in answers if step == "consent"), None),
                    "opted_out": j.opted_out,
                    "source": None,
                    "created_at": created,
                    "last_active_at": datetime.combine(days[-1], datetime.min.time(), UTC),
                    "mode": None,
                    "links": None,
                    "first_reached_at": self.when(created, 3 if rng.random() < 0.97 else 900),
                },
            )
            for platform in dict.fromkeys([j.platform, rng.choice(self.platforms)]):
                await self.out.add(
                    models.Identity,
                    {
                        "id": self.next_id("identity"),
                        "member_id": n,
                        "platform": platform,
                        "workspace": "",
                        "external_id": f"U{n}",
                        "dm_conversation": f"D{n}",
                        "username": None,
                        "created_at": created,
                        "last_inbound_at": None,
                    },
                )
                if rng.random() < 0.95:  # one in twenty came from a second platform too
                    break
            if not staff:
                await self._onboarding(j, answers)
            for day in days:
                row: dict[str, Any] = {"member_id": n, "day": day, "platform": j.platform}
                await self.out.add(models.MemberActivity, row)

    async def _run(
        self,
        member: int,
        flow: str,
        status: str,
        step: str | None,
        started: datetime,
        moved: datetime,
    ) -> int:
        run = self.next_id("flow_run")
        row: dict[str, Any] = {
            "id": run,
            "member_id": member,
            "flow_id": flow,
            "step_id": step,
            "state": {},
        }
        row |= {"status": status, "started_at": started, "updated_at": moved}
        row |= {"finished_at": moved if status == "completed" else None}
        await self.out.add(models.FlowRun, row | {"expires_at": started + timedelta(days=14)})
        return run

    async def _answer(
        self, run: int, member: int, flow: str, step: str, value: Any, at: datetime
    ) -> None:
        row: dict[str, Any] = {
            "id": self.next_id("answer"),
            "run_id": run,
            "member_id": member,
            "flow_id": flow,
        }
        await self.out.add(
            models.Answer, row | {"step_id": step, "value": value, "answered_at": at}
        )

    def _onboarding_answers(self, j: Joiner) -> list[tuple[str, Any, datetime]]:
        """Where the newcomer's run got to: every question for four in five, otherwise a
        random number of them; each answered a minute and a half after the one before."""
        rng = self.rng
        reached = len(ASKS) if rng.random() < 0.80 else rng.randrange(len(ASKS))
        answers, moved = [], j.created + timedelta(seconds=2)
        for step in ASKS[:reached]:
            moved = self.when(moved, 90)
            answers.append((step, _onboarding_answer(rng, step, j.locale), moved))
        j.consent = reached > ASKS.index("consent")
        j.wants_mentor = reached == len(ASKS) and answers[-1][1] == "yes"
        return answers

    async def _onboarding(self, j: Joiner, answers: list[tuple[str, Any, datetime]]) -> None:
        started = j.created + timedelta(seconds=2)
        moved = answers[-1][2] if answers else started
        if len(answers) == len(ASKS):
            status, step = "completed", None
            j.finished = moved
        else:
            luck = self.rng.random()
            status = "active" if luck < 0.70 else "paused" if luck < 0.75 else "expired"
            step, j.stalled = ASKS[len(answers)], True
        run = await self._run(j.id, "onboarding", status, step, started, moved)
        for step_id, value, at in answers:
            await self._answer(run, j.id, "onboarding", step_id, value, at)

    def _active_days(self, j: Joiner, steady: bool) -> list[date]:
        """The day they joined, then days at a rate halving every few weeks (each member at
        their own pace); one in twelve, and the staff, stay active all year."""
        rng = self.rng
        first = j.created.date()
        left = (NOW.date() - first).days
        days = {0}
        steady = steady or rng.random() < 0.08
        pace = rng.expovariate(1 / 30)  # days for the rate to fall by a factor e
        t = 0.0
        while True:
            rate = 0.3 if steady else 0.5 * math.exp(-t / pace)
            if rate < 1e-4:
                break
            t += rng.expovariate(rate)
            if t > left:
                break
            days.add(int(t))
        return [first + timedelta(days=offset) for offset in sorted(days)]

    async def _mentoring(self) -> None:
        """Mentor profiles; then, for every newcomer who asked, the request, the offers that
        came to nothing, the accepted one, the mentorship and its check-ins."""
        rng = self.rng
        mentors = [j.id for j in self.joiners[MANAGERS : self.staff]]
        for n, mentor in enumerate(mentors):
            await self.out.add(
                models.MentorProfile,
                {
                    "id": n + 1,
                    "member_id": mentor,
                    "topics": rng.sample(list(CATEGORIES), 3),
                    "languages": rng.sample(list(LOCALES), 2),
                    "hours_start": None,
                    "hours_end": None,
                    "capacity": rng.randint(1, 5),
                    "intro": "",
                    "paused": rng.random() < 0.05,
                    "expired_in_a_row": 0,
                    "created_at": START - timedelta(days=30),
                    "updated_at": START - timedelta(days=30),
                },
            )
        if not mentors:
            return
        # A few mentors carry much of the mentoring.
        busy = list(accumulate(1 / (rank + 1) ** 0.7 for rank in range(len(mentors))))
        for j in self.joiners:
            if j.wants_mentor and j.finished is not None:
                offered = rng.choices(mentors, cum_weights=busy, k=3)
                await self._request(j.id, j.finished + timedelta(seconds=1), offered)

    async def _request(self, member: int, requested: datetime, mentors: Sequence[int]) -> None:
        rng = self.rng
        request: dict[str, Any] = {"id": self.next_id("mentor_request"), "member_id": member}
        lapsed = rng.choices((0, 1, 2), weights=(70, 20, 10))[0]
        t, status = requested, "matched"
        offers: list[dict[str, Any]] = []
        for mentor in dict.fromkeys(mentors):
            offered = self.when(t, 6 * 3600)
            row: dict[str, Any] = {
                "id": self.next_id("mentor_offer"),
                "newcomer_id": member,
                "mentor_id": mentor,
            }
            row |= {"score": 0.5, "reasons": [], "offered_at": offered}
            row |= {"expires_at": offered + timedelta(hours=48)}
            if offered >= NOW - timedelta(hours=2):
                status = "waiting"
                break
            answered = self.when(offered, 4 * 3600)
            if answered >= NOW:  # still open
                offers.append(row | {"status": "offered", "answered_at": None})
                status = "offered"
                break
            if len(offers) < lapsed:
                declined = rng.random() < 0.5
                t = answered if declined else row["expires_at"]
                kind = "declined" if declined else "expired"
                offers.append(row | {"status": kind, "answered_at": answered if declined else None})
                continue
            offers.append(row | {"status": "accepted", "answered_at": answered})
            break
        if status == "matched" and (not offers or offers[-1]["status"] != "accepted"):
            status = "waiting"  # the mentors drawn all said no: waiting for the next
        if status == "matched" and rng.random() < 0.04:
            status = "cancelled"
            offers[-1].update(status="withdrawn", answered_at=None)
        updated = max([requested] + [o["offered_at"] for o in offers])
        matched = offers[-1]["answered_at"] if status == "matched" else None
        row = request | {
            "status": status,
            "requested_at": requested,
            "updated_at": updated,
            "matched_at": matched,  # as storage/mentorship.request_moved writes it
        }
        await self.out.add(models.MentorRequest, row)
        for offer in offers:
            await self.out.add(models.MentorOffer, offer)
        if status == "matched":
            await self._mentorship(offers[-1])

    async def _mentorship(self, offer: dict[str, Any]) -> None:
        started: datetime = offer["answered_at"]
        ends = started + timedelta(weeks=8)
        ended = ends if ends < NOW else None
        mentorship = self.next_id("mentorship")
        people = (offer["newcomer_id"], offer["mentor_id"])
        await self.out.add(
            models.Mentorship,
            {
                "id": mentorship,
                "newcomer_id": people[0],
                "mentor_id": people[1],
                "offer_id": offer["id"],
                "status": "ended" if ended else "active",
                "started_at": started,
                "ended_at": ended,
                "end_reason": "completed" if ended else None,
            },
        )
        for number in range(1, 5):
            asked = started + timedelta(weeks=2 * number)
            if asked >= min(ends, NOW):
                break
            for person in people:
                answered = self.when(asked, 8 * 3600) if self.rng.random() < 0.7 else None
                if answered is not None and answered >= NOW:
                    answered = None
                row: dict[str, Any] = {"id": self.next_id("checkin"), "mentorship_id": mentorship}
                row |= {"member_id": person, "number": number, "asked_at": asked}
                row |= {"answered_at": answered, "comment": None}
                await self.out.add(models.CheckIn, row | {"score": 4 if answered else None})

    async def _recognition(self) -> None:
        """`kudos` kudos, most to a few members (a long tail), each given after both people
        joined; 2% revoked. Then the badges they earn, and `welcomed` for onboarding."""
        rng, people = self.rng, [j.id for j in self.joiners]
        joined = {j.id: j.created for j in self.joiners}
        receivers, givers = rng.sample(people, len(people)), rng.sample(people, len(people))
        thanked = list(accumulate(1 / (rank + 1) ** 0.8 for rank in range(len(people))))
        giving = list(accumulate(1 / (rank + 1) ** 0.5 for rank in range(len(people))))
        kinds, weights = list(CATEGORIES), list(accumulate(CATEGORIES.values()))
        first: dict[int, datetime] = {}
        received: Counter[int] = Counter()
        given: Counter[int] = Counter()
        for start in range(0, self.kudos, BATCH):
            size = min(BATCH, self.kudos - start)
            pairs = zip(
                rng.choices(givers, cum_weights=giving, k=size),
                rng.choices(receivers, cum_weights=thanked, k=size),
                rng.choices(kinds, cum_weights=weights, k=size),
                strict=True,
            )
            for giver, receiver, category in pairs:
                # Kudos follow the community's size: as many more lately as members joined.
                at = START + YEAR * math.sqrt(rng.random())
                for _ in range(30):  # both must have joined by then: others, drawn alike
                    if giver != receiver and max(joined[giver], joined[receiver]) < at:
                        break
                    giver = rng.choices(givers, cum_weights=giving)[0]
                    receiver = rng.choices(receivers, cum_weights=thanked)[0]
                else:
                    giver = receiver % len(people) + 1 if giver == receiver else giver
                    earliest = max(joined[giver], joined[receiver])
                    at = earliest + (NOW - earliest) * rng.random()
                revoked = min(NOW, at + DAY) if rng.random() < 0.02 else None
                if revoked is None:
                    first[receiver] = min(at, first.get(receiver, at))
                    received[receiver] += 1
                    given[giver] += 1
                row: dict[str, Any] = {
                    "id": self.next_id("kudos"),
                    "giver_id": giver,
                    "receiver_id": receiver,
                }
                row |= {"category": category, "reason": "for a helpful contribution"}
                row |= {"created_at": at, "weight": 1.0, "shouted": False}
                await self.out.add(models.Kudos, row | {"revoked_at": revoked, "revoked_by": None})
        awards = [(j.id, "welcomed", j.finished) for j in self.joiners if j.finished]
        awards += [(member, "first_thanks", at) for member, at in first.items()]
        awards += [
            (member, "appreciated", first[member] + timedelta(days=rng.randrange(1, 60)))
            for member, n in received.items()
            if n >= 10
        ]
        awards += [
            (member, "helper", joined[member] + timedelta(days=rng.randrange(1, 200)))
            for member, n in given.items()
            if n >= 20
        ]
        for member, badge, at in awards:
            award = {"id": self.next_id("badge_award"), "member_id": member, "badge": badge}
            await self.out.add(models.BadgeAward, award | {"awarded_at": min(at, NOW)})

    async def _campaigns(self) -> None:
        """Three community calls to everyone who had joined, and a survey to the newcomers
        whose onboarding stalled; a third of those reached answer it."""
        specs = (
            ("community_call_march", 275, None),
            ("community_call_june", 185, None),
            ("onboarding_survey", 60, "onboarding_survey"),
            ("community_call_november", 40, None),
        )
        for key, days_ago, flow in specs:
            planned = NOW - timedelta(days=days_ago)
            campaign = self.next_id("campaign")
            file = {"id": key, "flow": flow} if flow else {"id": key, "message": "call"}
            await self.out.add(
                models.Campaign,
                {
                    "id": campaign,
                    "key": key,
                    "title": key.replace("_", " ").capitalize(),
                    "definition": {"file": file},
                    "definition_hash": "0" * 64,
                    "state": "done",
                    "send_at": planned,
                    "expires_at": planned + timedelta(days=3),
                    "seed": campaign,
                    "requested_by": "member:1",
                    "approved_by": None,
                    "planned_through": self.members,
                    "created_at": planned - timedelta(minutes=5),
                    "planned_at": planned,
                    "finished_at": planned + timedelta(hours=6),
                },
            )
            joined = planned - 7 * DAY if flow else planned  # the survey: stalled a week
            audience = [j for j in self.joiners if j.created < joined and (j.stalled or not flow)]
            for position, j in enumerate(audience):
                status, reason = self._delivery(j)
                row: dict[str, Any] = {
                    "id": self.next_id("campaign_recipient"),
                    "campaign_id": campaign,
                }
                row |= {"member_id": j.id, "platform": j.platform, "workspace": ""}
                row |= {"recipient": f"D{j.id}", "locale": j.locale, "name": f"Member {j.id}"}
                row |= {"last_inbound_at": None, "position": position, "send_at": planned}
                row |= {"status": status, "reason": reason, "retryable": False}
                row |= {"outbox_id": None, "delivery_id": None, "attempts": 1}
                await self.out.add(models.CampaignRecipient, row | {"updated_at": planned})
                if flow and status in ("delivered", "read") and self.rng.random() < 0.35:
                    await self._survey(j.id, flow, planned + timedelta(hours=1))

    def _delivery(self, j: Joiner) -> tuple[str, str | None]:
        luck = self.rng.random()
        if j.opted_out:
            return "excluded", "opted_out"
        if not j.consent:
            return "excluded", "no_consent"
        if j.platform == "whatsapp" and luck < 0.3:
            return "excluded", "outside_window"
        if luck < 0.02:
            return "failed", "platform_error"
        return (
            ("sent", None) if luck < 0.12 else ("delivered", None) if luck < 0.7 else ("read", None)
        )

    async def _survey(self, member: int, flow: str, reached: datetime) -> None:
        rng = self.rng
        answers = [
            ("going", rng.choice(("well", "slow", "stuck", "stopped"))),
            ("obstacle", rng.choice(("time", "unclear", "language", "technical", "people"))),
            ("suggestion", "more examples please"),
        ]
        moved = self.when(reached, 3600)
        run = await self._run(member, flow, "completed", None, moved, moved)
        for step, value in answers:
            moved = self.when(moved, 60)
            await self._answer(run, member, flow, step, value, moved)


def _onboarding_answer(rng: random.Random, step: str, locale: str) -> Any:
    if step == "language":
        return locale
    if step == "timezone":
        return rng.choice(("Africa/Nairobi", "Europe/Paris", "America/Lima", "Asia/Riyadh"))
    if step == "interests":
        return rng.sample(list(CATEGORIES)[:8], rng.randint(1, 3))
    if step == "experience":
        return rng.choice(("new", "some", "experienced"))
    if step == "start_here":
        return "done"
    if step == "mentor":
        return "yes" if rng.random() < 0.25 else "no"
    return "yes"  # consent, announcements


async def seed_community(db: Database, members: int, kudos: int, platforms: int) -> Counter[str]:
    """A migrated database holding the community, as the bot would have written it: the rows,
    then what the bulk inserts skip (each member's milestones, the kudos' running totals) and,
    on PostgreSQL, the id sequences moved past the ids given. Its row counts."""
    await upgrade(db.engine)
    counts = await Community(db, members, kudos, platforms).seed()
    async with db.engine.begin() as connection:
        await connection.run_sync(rebuild)
        await connection.run_sync(tallies.rebuild)
    if not db.sqlite:
        async with db.transaction() as session:
            for table in set(counts) - {"member_activity"}:  # ids were given: move sequences
                await session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    return counts
