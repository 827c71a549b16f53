"""`onramp campaign …` run as a community manager runs it, against a real database with
members in it. Each call is a process of its own; calls that do not depend on each other run
side by side."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from storage.members import create_member
from storage.migrate import upgrade
from storage.models import Campaign, CampaignRecipient, Consent, Member
from storage.session import Database
from tests.bot.test_cli import onramp
from tests.conftest import CONTENT, POSTGRES_URL, SKIP_POSTGRES
from tests.postgres import create_postgres_database, drop_postgres_database

HELLO = """\
schema_version: 1
id: {id}
title: Hello
segment:
  locale: [en, fr]
message:
  en: "Hello {{{{ member.name }}}}, the **call** is on Thursday."
  fr: "Bonjour {{{{ member.name }}}}, l'**appel** a lieu jeudi."
  es: "Hola {{{{ member.name }}}}, la **llamada** es el jueves."
send_at: now
"""

# (name, platform, locale, consent, opted out, conversation); Flo speaks Spanish: not in
# the segment at all. Dee is on Telegram, where the bot may not write first, and never wrote.
MEMBERS = [
    ("Ada", "console", "en", True, False, None),
    ("Bea", "console", "fr", True, False, None),
    ("Cy", "console", "en", False, False, None),
    ("Dee", "telegram", "en", True, False, None),
    ("Eve", "console", "en", True, True, None),
    ("Flo", "console", "es", True, False, None),
    ("Gus", "slack", "en", True, False, "D0GUS"),
]


async def _seed(url: str) -> None:
    db = Database.from_url(url)
    try:
        await upgrade(db.engine)
        async with db.transaction() as session:
            for name, platform, locale, consent, opted_out, conversation in MEMBERS:
                _, member = await create_member(
                    session,
                    platform=platform,
                    workspace="T1" if platform == "slack" else "",
                    external_id=name.lower(),
                    display_name=name,
                    locale=locale,
                    conversation=conversation,
                )
                member.timezone, member.opted_out = "Europe/Paris", opted_out
                if consent:
                    session.add(Consent(member_id=member.id, purpose="announcements", granted=True))
    finally:
        await db.dispose()


async def _campaigns(url: str) -> list[Campaign]:
    db = Database.from_url(url)
    try:
        async with db.reading() as session:
            return list((await session.execute(select(Campaign))).scalars())
    finally:
        await db.dispose()


async def _fail_gus(url: str) -> None:
    """Slack said no to Gus, for a reason another attempt may cure."""
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            gus = await session.execute(select(Member.id).where(Member.display_name == "Gus"))
            await session.execute(
                update(CampaignRecipient)
                .where(CampaignRecipient.member_id == gus.scalar_one())  # type: ignore[arg-type]
                .values(status="failed", reason="slack: ratelimited", retryable=True)
            )
    finally:
        await db.dispose()


def _home(tmp_path: Path, url: str) -> dict[str, str]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    for key in ("hello", "reminder"):
        (content / "campaigns" / f"{key}.yaml").write_text(HELLO.format(id=key), encoding="utf-8")
    return {
        "ONRAMP_DATABASE__URL": url,
        "ONRAMP_CONTENT__PATH": str(content),
        "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
        "COLUMNS": "200",  # rich tables are not cut to fit a narrow terminal
        "USER": "ada",
        "LOGNAME": "ada",
        # The command line runs on the real clock: without quiet hours, "now" is now for the
        # members (in Paris) whatever the hour the tests run at.
        "ONRAMP_CLOCK__QUIET_HOURS_START": "0",
        "ONRAMP_CLOCK__QUIET_HOURS_END": "0",
    }


async def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(onramp, *args, env=env, stdin=stdin)


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}"
    await _seed(url)
    yield _home(tmp_path, url)


def _line(output: str, *words: str) -> str:
    return next(line for line in output.splitlines() if all(word in line for word in words))


def _cells(output: str, *words: str) -> list[str]:
    """The cells of the first table row with all these words."""
    return [cell.strip() for cell in _line(output, *words).strip("│ ").split("│")]


async def test_preview_and_a_dry_run_change_nothing(home: dict[str, str]) -> None:
    shown, dry = await asyncio.gather(
        cli("campaign", "preview", "hello", env=home),
        cli("campaign", "send", "hello", "--dry-run", env=home),
    )
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "3 of 6 member(s) in the segment would receive it" in out
    assert _cells(out, "console", "en") == ["console", "en", "1"]
    assert _cells(out, "console", "fr") == ["console", "fr", "1"]
    assert _cells(out, "slack", "en") == ["slack", "en", "1"]
    assert "3 left out" in out
    for reason in ("sent /stop", "no consent for this purpose", "never wrote to the bot"):
        assert _cells(out, reason)[1] == "1"
    # each platform shows the message in its own markup
    terminal, slack = out.split("─ console · en ")[1], out.split("─ slack · en ")[1]
    assert _cells(terminal, "Hello") == ["Hello Ada, the call is on Thursday."]
    assert _cells(slack, "Hello") == ["Hello Ada, the *call* is on Thursday."]  # mrkdwn
    assert "Bonjour Ada, l'appel a lieu jeudi." in out.split("─ console · fr ")[1]
    assert "slack: 1 message(s) at 5 a second: under a second" in out

    assert dry.returncode == 0, dry.stderr
    assert "3 of 6 member(s)" in dry.stdout and "Dry run: nothing was planned." in dry.stdout
    assert await _campaigns(home["ONRAMP_DATABASE__URL"]) == []


async def test_clear_errors(tmp_path: Path, home: dict[str, str]) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(home["ONRAMP_CONTENT__PATH"], broken)
    (broken / "campaigns" / "hello.yaml").write_text(
        HELLO.format(id="hello").replace("locale: [en, fr]", "colour: red")
    )
    unknown, past, naive, garbled, broken_tree, confirm = await asyncio.gather(
        cli("campaign", "preview", "helo", env=home),
        cli("campaign", "send", "hello", "--at", "2020-01-01T10:00:00Z", env=home),
        cli("campaign", "send", "hello", "--at", "2030-01-01T10:00", env=home),
        cli("campaign", "cancel", "nothing_like_it", env=home),
        cli("campaign", "list", env={**home, "ONRAMP_CONTENT__PATH": str(broken)}),
        cli(
            "campaign",
            "send",
            "hello",
            env={**home, "ONRAMP_CAMPAIGNS__CONFIRM_ABOVE": "2"},
            stdin="n\n",
        ),
    )
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "No campaign 'helo': no campaigns/helo.yaml, and none sent by that id; "
        "did you mean 'hello'?"
    )
    assert past.returncode == 1 and "--at 2020-01-01T10:00:00Z is in the past" in past.stderr
    assert naive.returncode == 2
    assert "--at 2030-01-01T10:00 has no offset: add Z (UTC) or +03:00" in naive.stderr
    assert garbled.returncode == 1 and "No campaign 'nothing_like_it'" in garbled.stderr
    assert "did you mean" not in garbled.stderr
    assert broken_tree.returncode == 1
    first, last = broken_tree.stderr.strip().splitlines()[0], broken_tree.stderr.splitlines()[-1]
    assert first == "broken/campaigns/hello.yaml:5: unknown key 'colour'; did you mean 'country'?"
    assert last.startswith("1 error(s) in ")
    assert "Traceback" not in broken_tree.stderr + past.stderr + naive.stderr
    # more recipients than confirm_above: asked, and "no" plans nothing
    assert confirm.returncode == 1
    assert "Send 'hello' to 3 member(s)? [y/N]" in confirm.stdout
    assert await _campaigns(home["ONRAMP_DATABASE__URL"]) == []


async def test_send_once_follow_retry_and_cancel(home: dict[str, str]) -> None:
    url = home["ONRAMP_DATABASE__URL"]
    sent = await cli("campaign", "send", "hello", "--yes", env=home)
    assert sent.returncode == 0, sent.stderr
    assert "In all: under a second." in sent.stdout
    assert "hello: planned." in sent.stdout and "onramp campaign status hello" in sent.stdout

    again, status, nothing = await asyncio.gather(
        cli("campaign", "send", "hello", "--yes", env=home),
        cli("campaign", "status", "hello", env=home),
        cli("campaign", "retry", "hello", "--failed", env=home),
    )
    assert again.returncode == 0
    assert "hello: already sending; nothing changed." in again.stdout
    assert "planned." not in again.stdout
    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert "hello: Hello — sending (asked by cli:ada)" in out
    assert _cells(out, "console")[2:] == ["0/2", "planned 2, excluded 2"]
    assert _cells(out, "slack")[2:] == ["0/1", "planned 1"]
    assert _cells(out, "telegram")[2:] == ["0/0", "excluded 1"]
    assert "excluded: never wrote to the bot, which may not write first there: 1" in out
    assert "excluded: sent /stop: 1" in out
    assert "3 message(s) to go: under a second at each platform's pace." in out
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == (
        "campaign 'hello' has no failures another attempt could cure; nothing to retry"
    )

    await _fail_gus(url)
    edited = Path(home["ONRAMP_CONTENT__PATH"]) / "campaigns" / "hello.yaml"
    edited.write_text(HELLO.format(id="hello").replace("Thursday", "Friday"), encoding="utf-8")
    asked, failed = await asyncio.gather(
        cli("campaign", "retry", "hello", env=home),
        cli("campaign", "status", "hello", env=home),
    )
    assert asked.returncode == 2
    assert "--failed would send again 1 failed message(s)" in asked.stderr
    assert _cells(failed.stdout, "slack")[2:] == ["1/1", "failed 1"]
    assert "failed: slack: ratelimited: 1" in failed.stdout
    assert "Its file has changed since it was planned" in failed.stdout
    assert "file has changed" not in status.stdout
    retried = await cli("campaign", "retry", "hello", "--failed", env=home)
    assert retried.returncode == 0, retried.stderr
    assert "hello: 1 message(s) will be sent again" in retried.stdout

    output = Path(url.removeprefix("sqlite+aiosqlite:///")).parent / "hello.csv"
    to_stdout, to_file, listed = await asyncio.gather(
        cli("campaign", "results", "hello", "--csv", env=home),
        cli("campaign", "results", "hello", "--output", str(output), env=home),
        cli("campaign", "list", env=home),
    )
    assert to_stdout.returncode == 0, to_stdout.stderr
    rows = list(csv.DictReader(io.StringIO(to_stdout.stdout)))
    assert list(rows[0]) == [
        "member",
        "platform",
        "locale",
        "status",
        "reason",
        "send_at",
        "updated_at",
    ]
    assert sorted((r["platform"], r["locale"], r["status"], r["reason"]) for r in rows) == [
        ("console", "en", "excluded", "no_consent"),
        ("console", "en", "excluded", "opted_out"),
        ("console", "en", "planned", ""),
        ("console", "fr", "planned", ""),
        ("slack", "en", "planned", ""),  # to be sent again
        ("telegram", "en", "excluded", "never_started"),
    ]
    assert output.read_text(encoding="utf-8") == to_stdout.stdout
    assert "(6 row(s))" in to_file.stderr
    assert "4 campaign(s)" in listed.stdout
    assert _cells(listed.stdout, "hello") == ["hello", "Hello", "locale: en, fr", "now", "sending"]
    assert _cells(listed.stdout, "community_call")[2:] == [
        "onboarding completed or role: mentor",
        "10:00 local, 2037-12-01",
        "not sent",
    ]

    cancelled = await cli("campaign", "cancel", "hello", env=home)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "hello: cancelled; 3 message(s) will not be sent." in cancelled.stdout
    twice, watched = await asyncio.gather(
        cli("campaign", "cancel", "hello", env=home),
        cli("campaign", "status", "hello", "--watch", env=home),  # finished: returns at once
    )
    assert twice.returncode == 1
    assert twice.stderr.strip() == "campaign 'hello' is already cancelled; nothing to cancel"
    assert watched.returncode == 0 and "— cancelled" in watched.stdout
    assert _cells(watched.stdout, "console")[2:] == ["2/2", "cancelled 2, excluded 2"]


async def test_send_and_status_on_postgresql(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url = await create_postgres_database(POSTGRES_URL)
    try:
        await _seed(url)
        home = _home(tmp_path, url)
        sent = await cli("campaign", "send", "hello", "--yes", env=home)
        assert sent.returncode == 0 and "hello: planned." in sent.stdout, sent.stderr
        status, again = await asyncio.gather(
            cli("campaign", "status", "hello", env=home),
            cli("campaign", "send", "hello", "--yes", env=home),
        )
        assert _cells(status.stdout, "console")[2:] == ["0/2", "planned 2, excluded 2"]
        assert "already sending; nothing changed" in again.stdout
    finally:
        await drop_postgres_database(POSTGRES_URL, url)


async def test_a_second_manager_approves(home: dict[str, str]) -> None:
    env = {**home, "ONRAMP_CAMPAIGNS__REQUIRE_APPROVAL": "true"}
    asked = await cli("campaign", "send", "reminder", "--yes", env=env)
    assert asked.returncode == 0, asked.stderr
    assert "reminder: waiting for a second manager's approval." in asked.stdout
    assert "onramp campaign approve reminder" in asked.stdout
    bea = {**env, "USER": "bea", "LOGNAME": "bea"}
    own = await cli("campaign", "approve", "reminder", env=env)
    assert own.returncode == 1
    assert own.stderr.strip() == (
        "you asked for this send; another manager must approve it (two-person rule)"
    )
    approved = await cli("campaign", "approve", "reminder", env=bea)
    assert approved.returncode == 0, approved.stderr
    assert "reminder: approved and planned." in approved.stdout
    [row] = await _campaigns(home["ONRAMP_DATABASE__URL"])
    assert (row.requested_by, row.approved_by, row.state) == ("cli:ada", "cli:bea", "sending")


# Dates long past: past whenever the test runs (the command line runs on the real clock).
STALE_TIMES = "send_at: 2001-12-01T10:00:00Z\nexpires_at: 2001-12-03T15:00:00Z\n"
LATE_TIMES = "send_at: 2001-12-01T10:00:00Z\n"


def _write(home: dict[str, str], key: str, times: str) -> None:
    text = HELLO.format(id=key).replace("send_at: now\n", times)
    path = Path(home["ONRAMP_CONTENT__PATH"]) / "campaigns" / f"{key}.yaml"
    path.write_text(text, encoding="utf-8")


async def test_an_expired_campaign_is_refused_and_its_id_stays_free(home: dict[str, str]) -> None:
    _write(home, "stale", STALE_TIMES)
    shown, sent, checked = await asyncio.gather(
        cli("campaign", "preview", "stale", env=home),
        cli("campaign", "send", "stale", "--yes", env=home),
        cli("check", home["ONRAMP_CONTENT__PATH"], env=home),
    )
    assert shown.returncode == 0, shown.stderr
    assert "0 of 6 member(s) in the segment would receive it" in shown.stdout
    assert _cells(shown.stdout, "the campaign's expiry has passed")[1] == "3"
    assert (
        "Its expiry (2001-12-03 15:00 UTC) comes before anyone's send time: nobody can be sent "
        "it, and `send` refuses it." in shown.stdout
    )
    assert sent.returncode == 1
    assert sent.stderr.strip().startswith(
        "campaign 'stale' cannot be sent: its expires_at (2001-12-03 15:00 UTC) has passed (it is "
    )
    assert sent.stderr.strip().endswith(
        "so nobody would get it; nothing was planned. Set a later send_at and expires_at in its "
        "file, then send it again"
    )
    assert "Traceback" not in sent.stderr
    # a stale file is a warning: the content still loads, and the bot still starts
    assert checked.returncode == 0, checked.stdout
    assert "stale.yaml:11: warning: expires_at 2001-12-03 15:00 UTC has passed" in checked.stdout
    assert await _campaigns(home["ONRAMP_DATABASE__URL"]) == []

    _write(home, "stale", "send_at: now\nexpire_after: 2d\n")  # fixed: the same id sends
    again = await cli("campaign", "send", "stale", "--yes", env=home)
    assert again.returncode == 0, again.stderr
    assert "stale: planned." in again.stdout
    assert [row.key for row in await _campaigns(home["ONRAMP_DATABASE__URL"])] == ["stale"]


async def test_a_send_time_that_has_passed_is_said_and_asked(home: dict[str, str]) -> None:
    _write(home, "late", LATE_TIMES)
    shown, declined = await asyncio.gather(
        cli("campaign", "preview", "late", env=home),
        cli("campaign", "send", "late", env=home, stdin="n\n"),
    )
    said = "Its send time (2001-12-01 10:00 UTC) has passed: sent now, it goes at once."
    assert shown.returncode == 0, shown.stderr
    assert "3 of 6 member(s) in the segment would receive it" in shown.stdout
    assert said in shown.stdout
    assert declined.returncode == 1  # fewer than confirm_above, and asked all the same
    assert said in declined.stdout and "Send 'late' to 3 member(s) now? [y/N]" in declined.stdout
    assert await _campaigns(home["ONRAMP_DATABASE__URL"]) == []
    sent = await cli("campaign", "send", "late", "--yes", env=home)
    assert sent.returncode == 0, sent.stderr
    assert said in sent.stdout and "late: planned." in sent.stdout
