"""`onramp report` run as an operator runs it, in a process of its own on the test's clock,
against a real database holding a small community whose numbers are written out here by hand.

The community (the clock says 2 March 2026; the period is February, the one before it the
28 days before):

- Ada (console, English) joined on 3 Feb, said yes, finished onboarding that day, was active
  on 3, 5 and 12 Feb (two of the four weeks after onboarding: retained), asked for a mentor on
  4 Feb at 10:00 and was matched with Mo at 12:00 (a two-hour wait), and was thanked by Bea
  for code on 12 Feb (her first kudos). The bot first wrote to her 30 s after she joined.
- Bea (Slack, French) joined on 5 Feb, said yes, stopped onboarding at `interests` five
  minutes in (untouched since: stalled), active on 5 Feb; the bot wrote to her after 60 s.
- Cy (console, English) joined on 10 Jan and finished onboarding that day: the previous period.
- Mo (console, English), a mentor (capacity 3) since November, last active on 15 Nov 2025:
  active in the 180 days before the end of the period but not in its last 90 (inactive).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from storage.members import create_member
from storage.models import (
    FlowRun,
    Kudos,
    Member,
    MemberActivity,
    MentorOffer,
    MentorProfile,
    MentorRequest,
    Mentorship,
)
from storage.session import Database
from storage.statuses import OfferStatus, RequestStatus, RunStatus
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.storage.rows import rebuild_milestones
from tests.support.launcher import run_module

FEBRUARY = ("--since", "2026-02-01", "--until", "2026-02-28")


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def report(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`onramp report …` on the tests' clock (2 March 2026, 10:00 UTC)."""
    return reports(url, args)[0]


def reports(url: str, *calls: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Several `onramp report` calls, one after the other, each a process of its own."""
    return [
        run_module(
            "tests.bot.onramp_at",
            [*FakeClock().argv(), "report", *args],
            cwd=ROOT,
            env={**os.environ, "ONRAMP_DATABASE__URL": url, "COLUMNS": "200"},
            timeout=120,
        )
        for args in calls
    ]


async def seed(db: Database) -> None:
    async with db.transaction() as session:
        people: dict[str, int] = {}
        for name, platform, locale, joined in [
            ("Ada", "console", "en", at(2, 3)),
            ("Bea", "slack", "fr", at(2, 5, 10)),
            ("Cy", "console", "en", at(1, 10)),
            ("Mo", "console", "en", at(11, 1, year=2025)),
        ]:
            _, member = await create_member(
                session,
                platform=platform,
                workspace="T1" if platform == "slack" else "",
                external_id=name.lower(),
                display_name=name,
                locale=locale,
                now=joined,
            )
            member.consent, member.consent_at = True, joined
            assert member.id is not None
            people[name] = member.id
        ada, bea, cy, mo = (people[name] for name in ("Ada", "Bea", "Cy", "Mo"))
        session.add_all(
            [
                FlowRun(
                    member_id=ada,
                    flow_id="onboarding",
                    step_id=None,
                    status=RunStatus.COMPLETED,
                    started_at=at(2, 3),
                    updated_at=at(2, 3, 9, 10),
                    finished_at=at(2, 3, 9, 10),
                ),
                FlowRun(
                    member_id=bea,
                    flow_id="onboarding",
                    step_id="interests",
                    status=RunStatus.ACTIVE,
                    started_at=at(2, 5, 10),
                    updated_at=at(2, 5, 10, 5),
                ),
                FlowRun(
                    member_id=cy,
                    flow_id="onboarding",
                    status=RunStatus.COMPLETED,
                    started_at=at(1, 10),
                    updated_at=at(1, 10, 9, 10),
                    finished_at=at(1, 10, 9, 10),
                ),
                *(
                    MemberActivity(member_id=member_id, day=day, platform=platform)
                    for member_id, day, platform in [
                        (ada, date(2026, 2, 3), "console"),
                        (ada, date(2026, 2, 5), "console"),
                        (ada, date(2026, 2, 12), "console"),
                        (bea, date(2026, 2, 5), "slack"),
                        (cy, date(2026, 1, 10), "console"),
                        (mo, date(2025, 11, 15), "console"),
                    ]
                ),
                MentorProfile(member_id=mo, capacity=3, languages=["en"]),
                MentorRequest(
                    member_id=ada,
                    status=RequestStatus.MATCHED,
                    requested_at=at(2, 4, 10),
                    updated_at=at(2, 4, 12),
                    matched_at=at(2, 4, 12),  # as request_moved writes it
                ),
                MentorOffer(
                    newcomer_id=ada,
                    mentor_id=mo,
                    status=OfferStatus.ACCEPTED,
                    offered_at=at(2, 4, 10, 30),
                    expires_at=at(2, 6, 10, 30),
                    answered_at=at(2, 4, 12),
                ),
                Mentorship(newcomer_id=ada, mentor_id=mo, started_at=at(2, 4, 12)),
                Kudos(
                    giver_id=bea,
                    receiver_id=ada,
                    category="code",
                    reason="fixed the installer",
                    created_at=at(2, 12, 15),
                ),
            ]
        )
        await session.flush()
    async with db.transaction() as session:
        for member_id, wait in [(ada, 30), (bea, 60)]:
            newcomer = await session.get(Member, member_id)
            assert newcomer is not None
            newcomer.first_reached_at = newcomer.created_at + timedelta(seconds=wait)
    await rebuild_milestones(db)  # the rows went in directly, not through what keeps them


def parsed(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


async def test_json_holds_the_hand_counted_numbers(db: Database, database_url: str) -> None:
    await seed(db)
    doc = parsed(report(database_url, *FEBRUARY, "--format", "json"))
    assert doc["filters"]["start"] == "2026-02-01T00:00:00+00:00"
    assert doc["filters"]["end"] == "2026-03-01T00:00:00+00:00"
    overview = {key: (t["current"], t["previous"]) for key, t in doc["overview"].items()}
    assert overview == {
        "new_members": (2, 1),
        "onboarded": (1, 1),
        "matched": (1, 0),
        "first_contributions": (1, 0),
        "active_members": (2, 1),
    }
    assert doc["overview"]["new_members"]["change"] == 1.0
    funnel = doc["onboarding"]["funnel"]
    assert [(s["step"], s["members"], s["rate"]) for s in funnel] == [
        ("joined", 2, None),
        ("consented", 2, 1.0),
        ("onboarded", 1, 0.5),
        ("asked_mentor", 1, 1.0),
        ("matched", 1, 1.0),
        ("first_contribution", 1, 1.0),
        ("retained", 1, 1.0),
    ]
    assert doc["onboarding"]["dropoff"] == [
        {"flow": "onboarding", "step": "interests", "stalled": 1, "median_seconds": 300.0}
    ]
    assert doc["onboarding"]["first_message"] == {
        "count": 2,
        "median_seconds": 45.0,
        "p90_seconds": 60.0,
    }
    mentorship = doc["mentorship"]
    assert mentorship["requests"] == [{"month": "2026-02-01", "count": 1}]
    assert mentorship["wait"] == {"count": 1, "median_seconds": 7200.0, "p90_seconds": 7200.0}
    assert mentorship["offers"]["accepted"] == 1
    assert mentorship["load"] == [{"active": 1, "capacity": 3}]
    assert (mentorship["absence_factor"], mentorship["mentors_active"]) == (1, 1)
    recognition = doc["recognition"]
    assert recognition["kudos"] == [{"month": "2026-02-01", "category": "code", "count": 1}]
    assert (recognition["givers"], recognition["receivers"]) == (1, 1)
    assert recognition["new_contributors"] == [{"month": "2026-02-01", "count": 1}]
    assert doc["retention"] == {
        "cohorts": [{"month": "2026-02-01", "size": 2, "active": [2]}],
        "inactive": 1,
        "active_before": 1,
    }
    assert doc["at_risk"] == {"stalled": 1, "waiting": 0, "silent": 0}
    assert "Ada" not in json.dumps(doc) and "installer" not in json.dumps(doc)


async def test_platform_and_language_filters(db: Database, database_url: str) -> None:
    await seed(db)
    on_slack, in_french = reports(
        database_url,
        (*FEBRUARY, "--platform", "slack", "-f", "json"),
        (*FEBRUARY, "--locale", "FR", "-f", "json"),
    )
    slack = parsed(on_slack)
    assert slack["filters"]["platform"] == "slack"
    assert slack["overview"]["new_members"] == {"current": 1, "previous": 0, "change": None}
    assert [s["members"] for s in slack["onboarding"]["funnel"]][:3] == [1, 1, 0]
    french = parsed(in_french)
    assert french["filters"]["locale"] == "fr"
    assert french["overview"]["active_members"]["current"] == 1


async def test_csv_is_long_and_hides_small_groups(db: Database, database_url: str) -> None:
    await seed(db)
    result = report(database_url, *FEBRUARY, "--format", "csv", "--min-group", "2")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    value = {(r["section"], r["metric"], r["dimension"], r["month"]): r["value"] for r in rows}
    assert value[("filters", "min_group", "", "")] == "2"
    assert value[("overview", "new_members", "current", "")] == "2"
    assert value[("overview", "new_members", "previous", "")] == "<2"
    assert value[("overview", "new_members", "change", "")] == ""
    assert value[("onboarding", "funnel_members", "onboarded", "")] == "<2"
    assert value[("retention", "cohort_size", "", "2026-02-01")] == "2"
    assert value[("mentorship", "wait_median_seconds", "", "")] == ""  # one wait: someone's
    assert not any(r["dimension"].startswith("mentor ") for r in rows)


async def test_tables_in_a_terminal(db: Database, database_url: str) -> None:
    await seed(db)
    result = report(database_url, *FEBRUARY)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Community health from 2026-02-01 00:00 UTC to 2026-03-01 00:00 UTC" in lines[0]
    new = next(line for line in lines if "New members" in line)
    assert new.split()[-3:] == ["2", "1", "+100%"]
    funnel = lines[next(i for i, line in enumerate(lines) if "Onboarding funnel" in line) :]
    onboarded = next(line for line in funnel if line.strip().startswith("Finished onboarding"))
    assert onboarded.split()[-2:] == ["1", "50%"]
    assert any("onboarding / interests" in line for line in lines)


def test_nonsense_filters_get_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"
    calls = {
        ("--since", "90x"): 'The start "90x" is not a length like 90d, 12w, 6m or 1y.',
        ("--platform", "slak"): "did you mean 'slack'?",
        ("--locale", "de"): 'There is no language "de"',
        ("--since", "2026-02-01", "--until", "2026-01-01"): "The period is empty",
        ("--min-group", "1"): "--min-group must be 2 or more",
    }
    for result, said in zip(reports(url, *calls), calls.values(), strict=True):
        assert result.returncode == 2, (result.args, result.stderr)
        assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""


async def test_an_empty_community(db: Database, database_url: str) -> None:
    as_json, table = reports(database_url, ("--format", "json"), ())
    doc = parsed(as_json)
    assert all(t == {"current": 0, "previous": 0, "change": None} for t in doc["overview"].values())
    assert [s["members"] for s in doc["onboarding"]["funnel"]] == [0] * 7
    assert doc["campaigns"] == {"campaigns": [], "survey": []}
    assert table.returncode == 0, table.stderr
    assert "Nothing was recorded in this period or the one before." in table.stdout
