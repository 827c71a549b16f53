"""The Slack adapter: the real slack-bolt and slack-sdk against the Slack emulator, through the
bot's own web server (or Socket Mode), with the whole runtime on a real SQLite database.

Payloads come from tests/fakes/slack.py's builders, which follow Slack's documented examples.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML
from sqlalchemy import func, select
from sqlmodel import SQLModel, col
from starlette.applications import Starlette

from adapters.slack.adapter import EVENTS_PATH, SlackAdapter, SlackConfigError
from bot import metrics
from bot.adapter import Receipt
from bot.commands import command_menu
from bot.events import CommandInvoked, Event, MessageReceived
from bot.features import build_registry
from bot.messages import OutgoingMessage
from bot.runtime import Onramp
from bot.settings import AdaptersSettings, SenderSettings, Settings, SlackSettings, WebSettings
from flows.content import load_tree_or_raise
from storage.models import FlowRun, Kudos, Member, Outbox, ProcessedEvent
from tests.clock import RunningClock
from tests.conftest import CONTENT, ROOT
from tests.fakes.server import Fault
from tests.fakes.slack import (
    TEAM_ID,
    Inbound,
    SlackEmulator,
    block_actions,
    dm_channel_id,
    event_callback,
    im_message,
    member_joined_channel,
    signed_headers,
    slash_command,
    team_join,
    url_verification,
)
from tests.support import serving as harness
from tests.support.waiting import until

SECRET = "signing-secret"
ADA, BEA, CAL = "U0ADA00001", "U0BEA00001", "U0CAL00001"
WELCOME = "C0WELCOME1"
RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
WAIT_SECONDS = 15.0
MANIFEST = ROOT / "deploy" / "slack" / "manifest.yaml"


Users = dict[str, dict[str, Any]]  # Slack user objects by id


def people(emulator: SlackEmulator) -> Users:
    return {
        ADA: emulator.add_user(ADA, display_name="Ada", real_name="Ada Lovelace"),
        BEA: emulator.add_user(BEA, real_name="Bea Bianchi", locale="fr-FR"),
        CAL: emulator.add_user(CAL, display_name="Cal", locale="es-ES"),
    }


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    """Slack without rate limits: only the 429 test is about them."""
    with SlackEmulator(channel_limit=None) as emulator:
        yield emulator


@pytest.fixture
def users(slack: SlackEmulator) -> Users:
    return people(slack)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's tokens, given the way the bot gets them: in the environment."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)


def configure(settings: Settings, slack: SlackEmulator, **slack_settings: Any) -> Settings:
    settings.adapters = AdaptersSettings(enabled=["slack"])  # found by its entry point
    settings.slack = SlackSettings(
        **{
            "api_url": slack.api_url,
            "welcome_channels": [WELCOME],
            # Generous, so that only the emulator's limits (where a test sets them) bite.
            "channel_limit": (100, 1.0),
            "workspace_limit": (1000, 1.0),
            **slack_settings,
        }
    )
    settings.web = WebSettings(host="127.0.0.1", port=0, max_body_bytes=64 * 1024)
    settings.sender = SenderSettings(backoff_seconds=0.1, sweep_seconds=0.5)
    return settings


@dataclass
class Bot:
    onramp: Onramp
    slack: SlackEmulator
    http: httpx.AsyncClient | None

    @property
    def adapter(self) -> SlackAdapter:
        adapter = self.onramp.adapters["slack"]
        assert isinstance(adapter, SlackAdapter)
        return adapter

    async def post(
        self,
        body: Inbound | bytes,
        *,
        secret: str = SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST to /slack/events as Slack does: signed with `secret`."""
        assert self.http is not None, "HTTP mode only"
        raw = body.body if isinstance(body, Inbound) else body
        sent = {**signed(raw, secret, timestamp), **(headers or {})}
        return await self.http.post(EVENTS_PATH, content=raw, headers=sent)

    async def messages(self, user: str, count: int) -> list[dict[str, Any]]:
        """The bot's messages in its DM with `user`, once there are `count` of them."""
        await until(lambda: len(self.slack.messages_to(user)) >= count, f"message {count}")
        return self.slack.messages_to(user)

    async def press(self, user: str, question: dict[str, Any], label: str) -> httpx.Response:
        response = await self.post(pressing(user, question, label))
        assert (response.status_code, response.text) == (200, "")
        return response

    async def answered(self, user: str, position: int) -> dict[str, Any]:
        """The question at `position`, once it shows its answer instead of buttons."""
        await until(lambda: not buttons(self.slack.messages_to(user)[position]), "the answer")
        return self.slack.messages_to(user)[position]

    async def rows(self, table: type[SQLModel]) -> int:
        async with self.onramp.db.reading() as session:
            count = select(func.count()).select_from(table)
            return int((await session.execute(count)).scalar_one())


def signed(body: bytes, secret: str, timestamp: int | None) -> dict[str, str]:
    try:
        return signed_headers(body, secret, timestamp)
    except UnicodeDecodeError:  # slack-sdk signs text only; Slack's scheme signs any bytes
        now = int(time.time())  # wall clock: Slack's replay window, as the adapter checks it
        sent_at = str(now if timestamp is None else timestamp)
        digest = hmac.new(secret.encode(), f"v0:{sent_at}:".encode() + body, hashlib.sha256)
        signature = f"v0={digest.hexdigest()}"
        return {"X-Slack-Request-Timestamp": sent_at, "X-Slack-Signature": signature}


@asynccontextmanager
async def running(settings: Settings, slack: SlackEmulator) -> AsyncIterator[Bot]:
    """Onramp serving the adapters `settings` enables, found by their entry points as `onramp
    run` finds them (tests/support/serving.py), with a client for its web server if it has one."""
    async with harness.serving(settings, slack) as served:
        if served.onramp.web is None:  # Socket Mode
            yield Bot(served.onramp, slack, None)
            return
        async with httpx.AsyncClient(base_url=served.url(""), timeout=10) as http:
            yield Bot(served.onramp, slack, http)


@pytest.fixture
async def bot(settings: Settings, slack: SlackEmulator, users: Users) -> AsyncIterator[Bot]:
    async with running(configure(settings, slack), slack) as started:
        yield started


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def labels(message: dict[str, Any]) -> list[str]:
    return [
        e["text"]["text"] if e["type"] == "button" else [o["text"]["text"] for o in e["options"]]
        for e in buttons(message)
    ]


def pressing(user: str, question: dict[str, Any], label: str) -> Inbound:
    """What Slack sends when `user` presses the button labelled `label` on `question`."""
    block = next(b for b in question["blocks"] if b["type"] == "actions")
    button = next(e for e in block["elements"] if e.get("text", {}).get("text") == label)
    inbound = block_actions(
        user_id=user,
        action_id=button["action_id"],
        value=button["value"],
        message=question,
        channel_id=dm_channel_id(user),
        block_id=block["block_id"],
    )
    inbound.payload["actions"][0]["text"] = button["text"]  # Slack sends the button's own text
    return inbound


def ticking(user: str, question: dict[str, Any], *ticked: str) -> Inbound:
    """`user` ticks the boxes labelled `ticked` on `question`, then presses OK."""
    block = next(b for b in question["blocks"] if b["type"] == "actions")
    boxes = next(e for e in block["elements"] if e["type"] == "checkboxes")
    ok = next(e for e in block["elements"] if e["type"] == "button")
    inbound = pressing(user, question, ok["text"]["text"])
    selected = [o for o in boxes["options"] if o["text"]["text"] in ticked]
    assert len(selected) == len(ticked)
    inbound.payload["state"] = {
        "values": {
            block["block_id"]: {
                boxes["action_id"]: {"type": "checkboxes", "selected_options": selected}
            }
        }
    }
    return inbound


def rejected(reason: str) -> float:
    sample = metrics.REGISTRY.get_sample_value(
        "onramp_events_rejected_total", {"platform": "slack", "reason": reason}
    )
    return sample or 0.0


# A newcomer's whole journey.


async def test_a_newcomer_goes_through_the_whole_onboarding(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    joined = await bot.post(event_callback(team_join(users[ADA])))
    assert (joined.status_code, joined.text) == (200, "")

    # Slack says her language (users.info: en-US): the welcome, then consent; no language
    # question, and the welcome tells how to change it.
    welcome, consent = await bot.messages(ADA, 2)
    assert "👋 Hello Ada, and welcome to *Open Health Commons*!" in welcome["text"]
    assert "change my language with /language" in welcome["text"]
    assert "blocks" not in welcome  # no choices: plain mrkdwn text
    assert "quick question about your data" in consent["text"]
    assert consent["blocks"][0]["text"]["type"] == "mrkdwn"
    assert labels(consent) == ["Yes, that's fine", "No, thank you"]

    await bot.press(ADA, consent, "Yes, that's fine")
    timezone = (await bot.messages(ADA, 3))[2]
    answered = await bot.answered(ADA, 1)  # its buttons are gone: no second answer
    assert answered["blocks"][-1]["elements"][0]["text"] == "✔️ Yes, that's fine"
    assert answered["text"] == consent["text"]
    assert "Which time zone" in timezone["text"] and not buttons(timezone)
    assert "_Nairobi_" in timezone["text"]  # *Nairobi* in our Markdown, italic in mrkdwn

    typed = await bot.post(event_callback(im_message(ADA, "Lima")))
    assert typed.status_code == 200
    interests = (await bot.messages(ADA, 4))[3]
    assert "What would you like to help with" in interests["text"]
    boxes, ok = labels(interests)
    assert boxes[:2] == ["💻 Code", "📝 Documentation"] and len(boxes) == 8
    assert ok == "Done ✔️"  # the submit_choices text, in the member's language

    ticked = await bot.post(ticking(ADA, interests, "💻 Code", "📝 Documentation"))
    assert ticked.status_code == 200
    thanks, announcements = (await bot.messages(ADA, 6))[4:]
    assert "Thank you, 2 areas!" in thanks["text"]
    answer = (await bot.answered(ADA, 3))["blocks"][-1]["elements"][0]["text"]
    assert answer == "✔️ 💻 Code, 📝 Documentation"
    assert "occasional announcements" in announcements["text"]
    assert "_stop announcements_" in announcements["text"]
    assert labels(announcements) == ["Yes, please", "No, thanks"]

    await bot.press(ADA, announcements, "Yes, please")
    experience = (await bot.messages(ADA, 7))[6]
    await bot.press(ADA, experience, "A few times")
    start_here = (await bot.messages(ADA, 8))[7]
    assert "Where would you like to start?" in start_here["text"]
    await bot.press(ADA, start_here, "I'm all set")
    mentor = (await bot.messages(ADA, 9))[8]
    await bot.press(ADA, mentor, "Not right now")
    finish, badge = (await bot.messages(ADA, 11))[9:]
    assert "You're all set, Ada! 🎉" in finish["text"]
    assert "You've earned a badge: 🎒 On board!" in badge["text"]

    posted = slack.calls("chat.postMessage")  # each message once, in order, to Ada's DM
    assert [call["channel"] for call in posted] == [dm_channel_id(ADA)] * 11
    assert [call["text"] for call in posted] == [m["text"] for m in slack.messages_to(ADA)]
    assert len(slack.calls("conversations.open")) == 1  # the DM channel is remembered
    async with bot.onramp.db.reading() as session:
        statuses = (await session.execute(select(col(FlowRun.status)))).scalars().all()
        member = (await session.execute(select(Member))).scalar_one()
    assert list(statuses) == ["completed"]
    assert (member.display_name, member.locale, member.timezone) == ("Ada", "en", "America/Lima")
    assert member.profile["interests"] == ["code", "docs"]


async def test_a_question_takes_one_answer_a_double_click_is_one(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    await bot.post(event_callback(team_join(users[ADA])))
    consent = (await bot.messages(ADA, 2))[1]
    first = await bot.post(pressing(ADA, consent, "Yes, that's fine"))
    # Pressed again before the buttons went away (or Slack's payload came twice).
    second = await bot.post(pressing(ADA, consent, "No, thank you"))

    assert (first.status_code, second.status_code) == (200, 200)
    await bot.messages(ADA, 3)
    assert await bot.rows(ProcessedEvent) == 2  # the join and one answer
    assert await bot.rows(Outbox) == 3  # welcome, consent, and one next question
    assert "Which time zone" in slack.messages_to(ADA)[2]["text"]


async def test_onboard_restarts_and_every_slash_command_reaches_the_bot(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    await bot.post(event_callback(team_join(users[ADA])))
    consent = (await bot.messages(ADA, 2))[1]
    await bot.press(ADA, consent, "Yes, that's fine")
    await bot.messages(ADA, 3)

    onboard = await bot.post(
        slash_command("", user_id=ADA, channel_id="C0GENERAL1", command="/onboard")
    )

    assert (onboard.status_code, onboard.text) == (200, "")  # the answer comes in the DM
    welcome, consent_again = (await bot.messages(ADA, 5))[3:]
    assert "welcome to *Open Health Commons*" in welcome["text"]
    assert labels(consent_again) == ["Yes, that's fine", "No, thank you"]

    await bot.post(slash_command("", user_id=ADA, channel_id=dm_channel_id(ADA), command="/help"))
    help_text, asked_again = (await bot.messages(ADA, 7))[5:]
    assert "/feedback: How was your welcome?" in help_text["text"]
    assert labels(asked_again) == ["Yes, that's fine", "No, thank you"]  # where Ada was
    await bot.post(slash_command("now", user_id=ADA, channel_id="C0GENERAL1", command="/frob"))
    unknown, asked_again = (await bot.messages(ADA, 9))[7:]
    assert "I don't know that command" in unknown["text"]
    assert labels(asked_again) == ["Yes, that's fine", "No, thank you"]
    # Bolt reads a form that mentions "payload" as empty; the command still arrives.
    await bot.post(
        slash_command("payload", user_id=ADA, channel_id="C0GENERAL1", command="/language")
    )
    assert "Which language" not in (await bot.messages(ADA, 11))[9]["text"]
    typed = await bot.post(event_callback(im_message(ADA, " /language fr")))
    assert typed.status_code == 200
    language_set, in_french = (await bot.messages(ADA, 13))[11:]
    assert "français" in language_set["text"].casefold()
    assert labels(in_french) == ["Oui, c'est d'accord", "Non, merci"]


async def test_joining_a_welcome_channel_starts_onboarding_other_channels_do_not(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    elsewhere = await bot.post(event_callback(member_joined_channel(BEA, "C0RANDOM01")))
    assert elsewhere.status_code == 200
    assert await bot.rows(ProcessedEvent) == 0

    welcomed = await bot.post(event_callback(member_joined_channel(BEA, WELCOME)))

    assert welcomed.status_code == 200
    welcome, consent = await bot.messages(BEA, 2)  # in her DM, in her Slack language
    assert "Bonjour Bea Bianchi, et bienvenue dans *Open Health Commons*" in welcome["text"]
    assert "changer ma langue avec /language" in welcome["text"]  # never asked: told how
    assert "une petite question sur vos données" in consent["text"]
    assert labels(consent) == ["Oui, c'est d'accord", "Non, merci"]
    assert slack.calls("users.info")[0]["user"] == BEA  # her name and language
    await bot.press(BEA, consent, "Oui, c'est d'accord")
    assert "Dans quel fuseau horaire" in (await bot.messages(BEA, 3))[2]["text"]
    async with bot.onramp.db.reading() as session:
        member = (await session.execute(select(Member))).scalar_one()
    assert member.locale == "fr"  # fr-FR: the community's French


# Requests that must change nothing.


async def test_a_forged_or_stale_request_is_refused_and_changes_nothing(
    bot: Bot, slack: SlackEmulator, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="onramp.web")
    before = rejected("bad_signature"), rejected("stale")
    join = event_callback(team_join(users[ADA]))

    forged = await bot.post(join, secret="not-the-secret")
    stale = await bot.post(join, timestamp=int(time.time()) - 6 * 60)  # wall clock: as above
    assert bot.http is not None
    unsigned = await bot.http.post(EVENTS_PATH, content=join.body)

    assert [r.status_code for r in (forged, stale, unsigned)] == [401, 401, 401]
    assert "does not match SLACK_SIGNING_SECRET" in forged.text
    assert "more than 5 minutes" in stale.text
    for table in (ProcessedEvent, Member, Outbox):
        assert await bot.rows(table) == 0
    assert slack.calls("chat.postMessage") == [] and slack.calls("users.info") == []
    assert (rejected("bad_signature") - before[0], rejected("stale") - before[1]) == (2, 1)
    reasons = [r.__dict__.get("reason", "") for r in caplog.records if r.msg == "request rejected"]
    assert any("SLACK_SIGNING_SECRET" in reason for reason in reasons)
    assert any("5 minutes" in reason for reason in reasons)


async def test_a_redelivered_event_has_one_effect(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    join = event_callback(team_join(users[ADA]))

    first = await bot.post(join)
    again = await bot.post(join, headers=RETRY)  # Slack did not see the first answer in time

    assert (first.status_code, again.status_code) == (200, 200)
    # Slack is answered once the event is committed, so the database already says it all.
    assert await bot.rows(ProcessedEvent) == 1
    assert await bot.rows(Outbox) == 2
    await bot.messages(ADA, 2)
    assert len(slack.calls("chat.postMessage")) == 2


async def test_an_event_not_committed_in_time_is_left_for_slack_to_deliver_again(
    settings: Settings, slack: SlackEmulator, users: Users
) -> None:
    async with running(configure(settings, slack, ack_budget_seconds=0.3), slack) as bot:
        join = event_callback(team_join(users[ADA]))
        async with bot.onramp.db.transaction():  # the database is busy for a while
            late = await bot.post(join)
            command = await bot.post(
                slash_command("", user_id=CAL, channel_id="C0GENERAL1", command="/help")
            )
        again = await bot.post(join, headers=RETRY)

        assert late.status_code == 503  # not acknowledged: Slack delivers it again
        assert command.status_code == 200  # Slack never redelivers a command: it finishes later
        assert again.status_code == 200
        await bot.messages(ADA, 2)
        await bot.messages(CAL, 1)
        assert await bot.rows(ProcessedEvent) == 2
        assert len(slack.messages_to(ADA)) == 2


async def test_a_429_storm_delays_but_loses_and_repeats_nothing(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Slack's limits are tighter than the ones the bot keeps to, so it meets many 429s.
    with SlackEmulator(channel_limit=(1, 1.0), workspace_limit=(3, 1.0)) as slack:
        users = people(slack)
        configured = configure(settings, slack, channel_limit=(5, 1.0), workspace_limit=(50, 1.0))
        async with running(configured, slack) as bot:
            joins = [bot.post(event_callback(team_join(users[u]))) for u in (ADA, BEA, CAL)]
            assert [r.status_code for r in await asyncio.gather(*joins)] == [200] * 3
            questions = [(await bot.messages(u, 2))[1] for u in (ADA, BEA, CAL)]
            yes = ["Yes, that's fine", "Oui, c'est d'accord", "Sí, me parece bien"]
            for user, question, label in zip((ADA, BEA, CAL), questions, yes, strict=True):
                await bot.press(user, question, label)
            delivered = {u: await bot.messages(u, 3) for u in (ADA, BEA, CAL)}
            assert await bot.rows(Outbox) == 9

        posted = slack.calls("chat.postMessage")
        assert len(posted) > 9  # throttled attempts, tried again
        for user, messages in delivered.items():
            texts = [m["text"] for m in messages]
            assert len(texts) == len(set(texts)) == 3  # each once, in order
            assert "Open Health Commons" in texts[0]
            assert messages[1]["blocks"][-1]["block_id"] == "onramp.answered"
            # The time zone question, in each one's language, typed: no buttons.
            asked = {ADA: "Which time zone", BEA: "fuseau horaire", CAL: "zona horaria"}[user]
            assert asked in messages[2]["text"] and not buttons(messages[2])
            assert slack.messages_to(user) == messages  # nothing after


async def test_the_bot_restarted_mid_flow_picks_up_where_it_left_off(
    settings: Settings, slack: SlackEmulator, users: Users
) -> None:
    configured = configure(settings, slack)
    async with running(configured, slack) as bot:
        await bot.post(event_callback(team_join(users[BEA])))  # French, says Slack
        await bot.messages(BEA, 2)

    async with running(configured, slack) as restarted:  # a new process: nothing remembered
        consent = slack.messages_to(BEA)[1]
        await restarted.press(BEA, consent, "Oui, c'est d'accord")
        timezone = (await restarted.messages(BEA, 3))[2]
        assert "Dans quel fuseau horaire" in timezone["text"]
        await restarted.post(event_callback(im_message(BEA, "Lima")))
        interests = (await restarted.messages(BEA, 4))[3]
        assert "Sur quoi aimeriez-vous aider ?" in interests["text"]

    assert len(slack.messages_to(BEA)) == 4
    assert len(slack.calls("conversations.open")) == 2  # once per process


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (event_callback(team_join({"id": ADA})).body[:-7], "application/json", 400, "not JSON"),
        (b"", "application/json", 400, "not JSON"),
        (b"", "application/x-www-form-urlencoded", 400, "neither a slash command"),
        (b"\xff\xfe{}", "application/json", 400, "not UTF-8"),
        (b"[1, 2]", "application/json", 400, "not a JSON object"),
        (b"[" * 50_000, "application/json", 400, "not JSON"),
        (b'{"type": "event_callback", "event_id": "Ev1"}', "application/json", 400, "event type"),
        (b'{"type": "event_callback", "event": {"type": "team_join"}}', None, 400, "event_id"),
        (event_callback({"type": "team_join"}).body, "application/json", 400, "no user"),
        (b"payload=%7B%22type", "application/x-www-form-urlencoded", 400, "not JSON"),
        (event_callback(im_message(ADA, "hi")).body, "text/plain", 415, "content type"),
        (b"<xml/>", "application/xml", 415, "content type"),
    ],
)
async def test_a_malformed_request_is_refused_and_the_server_carries_on(
    bot: Bot,
    slack: SlackEmulator,
    users: Users,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str | None,
    status: int,
    reason: str,
) -> None:
    caplog.set_level(logging.INFO, logger="onramp.web")
    headers = {"Content-Type": content_type} if content_type else {}

    refused = await bot.post(body, headers=headers)

    assert refused.status_code == status
    assert reason in refused.text
    logged = [r for r in caplog.records if r.msg == "request rejected"]
    assert logged and reason in logged[-1].__dict__["reason"]
    for table in (ProcessedEvent, Member, Outbox):
        assert await bot.rows(table) == 0
    assert bot.http is not None
    assert (await bot.http.get("/healthz")).status_code == 200
    assert (await bot.post(event_callback(team_join(users[ADA])))).status_code == 200
    await bot.messages(ADA, 2)


async def test_what_slack_expects_a_2xx_for_gets_one(bot: Bot, slack: SlackEmulator) -> None:
    challenge = await bot.post(url_verification("3eZbrw1aBm2rZgRNFdx"))
    reaction = {"type": "reaction_added", "user": ADA, "reaction": "tada", "event_ts": "1.2"}
    unknown_event = await bot.post(event_callback(reaction))
    unknown_type = await bot.post(b'{"type": "app_rate_limited", "team_id": "T1"}')
    ssl_check = await bot.post(b"ssl_check=1&token=verification-token")
    group_message = event_callback({**im_message(ADA, "hi"), "channel_type": "channel"})
    elsewhere = await bot.post(group_message)
    edited = await bot.post(event_callback({**im_message(ADA, "hi"), "subtype": "message_changed"}))
    foreign_button = await bot.post(
        block_actions(
            user_id=ADA,
            action_id="approve",
            value="1",
            message={"ts": "1.000001"},
            channel_id=dm_channel_id(ADA),
        )
    )

    assert (challenge.status_code, challenge.json()) == (200, {"challenge": "3eZbrw1aBm2rZgRNFdx"})
    for ignored in (unknown_event, unknown_type, ssl_check, elsewhere, edited, foreign_button):
        assert ignored.status_code == 200
    assert await bot.rows(ProcessedEvent) == 0
    assert slack.calls("chat.postMessage") == []


async def test_a_body_over_the_limit_is_refused_before_slack_code_sees_it(
    bot: Bot, slack: SlackEmulator
) -> None:
    huge = event_callback(im_message(ADA, "x" * 100_000))

    refused = await bot.post(huge)

    assert refused.status_code == 413
    assert await bot.rows(ProcessedEvent) == 0
    assert slack.calls("users.info") == []


# Socket Mode.


async def test_socket_mode_takes_envelopes_and_acks_them_once_committed(
    settings: Settings, slack: SlackEmulator, users: Users
) -> None:
    async with running(configure(settings, slack, mode="socket"), slack) as bot:
        assert bot.onramp.web is None  # no route to serve: no web server
        await slack.wait_for_connection()
        assert bot.adapter.ready()
        join = event_callback(team_join(users[ADA]))

        envelope = await slack.push(join.envelope_type, join.payload)

        assert await slack.wait_for_ack(envelope) == {"envelope_id": envelope}
        consent = (await bot.messages(ADA, 2))[1]
        press = pressing(ADA, consent, "Yes, that's fine")
        pressed = await slack.push(press.envelope_type, press.payload)
        await slack.wait_for_ack(pressed)
        assert "Which time zone" in (await bot.messages(ADA, 3))[2]["text"]
        again = await slack.push(join.envelope_type, join.payload, retry_attempt=1)
        await slack.wait_for_ack(again)
        broken = event_callback({"type": "team_join"})
        refused = await slack.push(broken.envelope_type, broken.payload)
        await slack.wait_for_ack(refused)  # acked: sending it again would not mend it
        assert await bot.rows(ProcessedEvent) == 2
    assert slack.calls("apps.connections.open") == [{}]


async def test_socket_mode_leaves_an_event_unacked_until_it_is_committed(
    settings: Settings, slack: SlackEmulator, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    configured = configure(settings, slack, mode="socket", ack_budget_seconds=0.3)
    async with running(configured, slack) as bot:
        await slack.wait_for_connection()
        join = event_callback(team_join(users[ADA]))
        async with bot.onramp.db.transaction():  # the database is busy for a while
            late = await slack.push(join.envelope_type, join.payload)
            await until(
                lambda: any("not committed in time" in r.getMessage() for r in caplog.records),
                "the budget to run out",
            )
        assert all(ack["envelope_id"] != late for ack in slack.acks)  # Slack will send it again

        again = await slack.push(join.envelope_type, join.payload, retry_attempt=1)

        await slack.wait_for_ack(again)
        await bot.messages(ADA, 2)
        assert await bot.rows(ProcessedEvent) == 1
        assert all(ack["envelope_id"] != late for ack in slack.acks)


# Sending.


async def test_a_failed_post_is_tried_again_and_a_refused_one_given_up(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    slack.faults.add(Fault(status=503, path="chat.postMessage"))
    await bot.post(event_callback(team_join(users[ADA])))
    await bot.messages(ADA, 2)
    assert len(slack.calls("chat.postMessage")) == 3  # the 503, then both messages

    # No such user in Slack any more; the event says their language: welcome and consent go.
    stranger = {
        "id": "U0GONE0001",
        "team_id": TEAM_ID,
        "profile": {"display_name": "Gone"},
        "locale": "en-US",
    }
    await bot.post(event_callback(team_join(stranger)))

    async def failed() -> int:
        async with bot.onramp.db.reading() as session:
            query = select(func.count()).where(col(Outbox.status) == "failed")
            return int((await session.execute(query)).scalar_one())

    deadline = time.monotonic() + WAIT_SECONDS
    while await failed() < 2:
        assert time.monotonic() < deadline, "the messages to a missing user never failed"
        await asyncio.sleep(0.05)
    opened = [c for c in slack.calls("conversations.open") if c["users"] == "U0GONE0001"]
    assert len(opened) == 2  # once per message: a refused DM is not remembered


async def test_a_message_already_posted_is_found_by_its_outbox_row(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    """After a crash between posting and recording, the sender asks before it posts again:
    every message carries its outbox row's id as message metadata, read back from the DM's
    latest messages (`conversations.history`, `include_all_metadata`)."""
    await bot.post(event_callback(team_join(users[ADA])))
    posted = await bot.messages(ADA, 2)
    async with bot.onramp.db.reading() as session:
        rows = (await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars().all()
    assert [row.delivery_id for row in rows[:2]] == [m["ts"] for m in posted[:2]]
    assert posted[0]["metadata"] == {
        "event_type": "onramp_message",
        "event_payload": {"outbox_id": rows[0].id},
    }

    def asking(outbox_id: int | None) -> OutgoingMessage:
        return OutgoingMessage(platform="slack", recipient=ADA, text="…", outbox_id=outbox_id)

    assert await bot.adapter.already_sent(asking(rows[1].id)) == posted[1]["ts"]
    assert await bot.adapter.already_sent(asking(rows[0].id)) == posted[0]["ts"]
    assert await bot.adapter.already_sent(asking(10_000)) is None  # never posted
    histories = len(slack.calls("conversations.history"))
    assert await bot.adapter.already_sent(asking(None)) is None  # nothing to look for
    assert len(slack.calls("conversations.history")) == histories
    call = slack.calls("conversations.history")[-1]
    assert call["include_all_metadata"] in ("1", "true", True)
    slack.faults.add(
        Fault(
            status=200, path="conversations.history", body={"ok": False, "error": "missing_scope"}
        )
    )
    assert await bot.adapter.already_sent(asking(rows[0].id)) is None  # cannot tell: post again
    # Rate limited (Tier 3): it waits as Slack says and asks again, rather than post twice.
    slack.faults.add(
        Fault(status=429, path="conversations.history", headers={"Retry-After": "1"}, times=2)
    )
    asked = len(slack.calls("conversations.history"))
    assert await bot.adapter.already_sent(asking(rows[0].id)) == posted[0]["ts"]
    assert len(slack.calls("conversations.history")) == asked + 3  # two 429s, then the answer


# Set-up.


def test_missing_secrets_are_named(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    with pytest.raises(SlackConfigError, match="SLACK_SIGNING_SECRET"):
        SlackAdapter(settings)
    settings.slack = SlackSettings(mode="socket")
    SlackAdapter(settings)  # Socket Mode needs no signing secret
    monkeypatch.delenv("SLACK_APP_TOKEN")
    with pytest.raises(SlackConfigError, match="SLACK_APP_TOKEN"):
        SlackAdapter(settings)
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    with pytest.raises(SlackConfigError, match="SLACK_BOT_TOKEN"):
        SlackAdapter(settings)


async def test_a_wrong_token_stops_the_start(
    settings: Settings, slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    onramp = await Onramp.create(configure(settings, slack), clock=RunningClock())
    try:
        with pytest.raises(SlackConfigError, match="invalid_auth"):
            await onramp.start()
    finally:
        await onramp.stop()


def test_the_manifest_declares_what_the_bot_uses() -> None:
    manifest = YAML(typ="safe").load(MANIFEST.read_text())
    commands = manifest["features"]["slash_commands"]
    registry = build_registry()
    menu = command_menu(load_tree_or_raise(CONTENT, actions=registry.actions), registry)

    assert [c["command"] for c in commands] == [f"/{c.name}" for c in menu]
    assert all(c["description"] and len(c["description"]) <= 100 for c in commands)
    events = manifest["settings"]["event_subscriptions"]
    assert sorted(events["bot_events"]) == [
        "member_joined_channel",
        "message.im",
        "team_join",
        "user_change",
    ]
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "channels:read",
        "chat:write",
        "commands",
        "files:write",
        "im:history",
        "im:write",
        "mpim:write",
        "users:read",
    ]
    urls = [events["request_url"], manifest["settings"]["interactivity"]["request_url"]]
    assert all(url.endswith(EVENTS_PATH) for url in [*urls, *(c["url"] for c in commands)])
    assert manifest["features"]["app_home"]["messages_tab_read_only_enabled"] is False


async def test_slack_unreachable_at_start_means_not_ready_until_it_answers(
    settings: Settings, slack: SlackEmulator, users: Users
) -> None:
    slack.faults.add(Fault(status=503, path="auth.test"))
    async with running(configure(settings, slack), slack) as bot:
        assert bot.http is not None
        assert (await bot.http.get("/readyz")).json()["not_ready"] == ["slack"]
        await until(bot.adapter.ready, "auth.test answered")  # retried without any traffic
        assert (await bot.http.get("/readyz")).status_code == 200
        assert (await bot.post(event_callback(team_join(users[ADA])))).status_code == 200
        await bot.messages(ADA, 2)
    assert len(slack.calls("auth.test")) == 2


async def test_a_mentor_signs_up_accepts_an_offer_and_both_meet_in_a_group_dm(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    mentor = await bot.post(
        slash_command("signup", user_id=ADA, channel_id="C0GENERAL1", command="/mentor")
    )
    assert (mentor.status_code, mentor.text) == (200, "")
    topics = (await bot.messages(ADA, 2))[1]
    await bot.post(ticking(ADA, topics, "📝 Documentation"))
    languages = (await bot.messages(ADA, 3))[2]
    await bot.post(ticking(ADA, languages, "English", "Français"))
    experience = (await bot.messages(ADA, 4))[3]
    await bot.press(ADA, experience, "Quite a lot")
    timezone = (await bot.messages(ADA, 5))[4]
    assert "Which time zone" in timezone["text"]
    await bot.post(event_callback(im_message(ADA, "Lima")))
    hours = (await bot.messages(ADA, 6))[5]
    await bot.press(ADA, hours, "🕘 It varies")
    capacity = (await bot.messages(ADA, 7))[6]
    await bot.press(ADA, capacity, "2")
    await bot.messages(ADA, 8)
    await bot.post(event_callback(im_message(ADA, "I write the install guide.")))
    assert "You're all set as a mentor" in (await bot.messages(ADA, 9))[8]["text"]

    # Bea (French) asks for a mentor; Ada gets the offer, in English, with its reasons.
    await bot.post(slash_command("", user_id=BEA, channel_id="C0GENERAL1", command="/mentor"))
    assert "J'ai contacté un mentor" in (await bot.messages(BEA, 1))[0]["text"]
    offer = (await bot.messages(ADA, 10))[9]
    assert "*Bea Bianchi* would like a mentor" in offer["text"]
    assert "you both speak French" in offer["text"]
    assert labels(offer) == ["Accept", "Decline"]
    await bot.press(ADA, offer, "Accept")

    group = dm_channel_id(ADA, BEA)
    await until(lambda: slack.messages_to(group), "the introduction in a group DM")
    [introduction] = slack.messages_to(group)
    assert "Bea Bianchi, voici Ada, votre mentor" in introduction["text"]
    assert "I write the install guide." in introduction["text"]
    opened = [c["users"] for c in slack.calls("conversations.open") if "," in c["users"]]
    assert opened == [f"{BEA},{ADA}"]
    assert "conversation à deux" in (await bot.messages(BEA, 2))[1]["text"]
    assert "conversation with the two of you" in (await bot.messages(ADA, 11))[10]["text"]
    await bot.answered(ADA, 9)  # the offer shows its answer instead of its buttons


# What members type: a mention of a member reaches the core as a member link.


@asynccontextmanager
async def heard(
    settings: Settings, slack: SlackEmulator
) -> AsyncIterator[Callable[[Inbound], Awaitable[Event]]]:
    """The adapter alone behind its own route: `hear(inbound)` posts it as Slack would and
    returns the event it became."""
    adapter = SlackAdapter(configure(settings, slack))
    events: list[Event] = []

    async def inbox(event: Event) -> Receipt:
        events.append(event)
        return Receipt(duplicate=False)

    async def hear(inbound: Inbound) -> Event:
        before = len(events)
        sent = signed(inbound.body, SECRET, None)
        response = await http.post(EVENTS_PATH, content=inbound.body, headers=sent)
        assert response.status_code == 200, response.text
        [event] = events[before:]
        return event

    await adapter.start(inbox)
    transport = httpx.ASGITransport(app=Starlette(routes=adapter.routes()))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://onramp.test") as http:
            yield hear
    finally:
        await adapter.stop()


async def test_mentions_in_a_slash_command_and_a_dm_become_member_links(
    settings: Settings, slack: SlackEmulator, users: Users
) -> None:
    async with heard(settings, slack) as hear:
        # Slack's own example, with "Escape channels, users, and links" on.
        escaped = "ask <@U012ABCDEF|crushermd> to bake a birthday cake for <@U345GHIJKL|worf> in "
        todo = slash_command(
            escaped + "<#C012ABCDE|d-social>", user_id=ADA, channel_id=WELCOME, command="/kudos"
        )
        kudos = await hear(todo)
        assert isinstance(kudos, CommandInvoked) and kudos.name == "kudos"
        assert kudos.args == (
            "ask [crushermd](member:U012ABCDEF) to bake a birthday cake for"
            " [worf](member:U345GHIJKL) in #d-social"
        )
        assert kudos.username is None  # Slack mentions carry ids: no handle is needed

        typed = "/kudos <@U0BEA00001> for <https://example.org/guide|the guide> &amp; &lt;3 #docs"
        in_dm = await hear(event_callback(im_message(ADA, typed)))
        assert isinstance(in_dm, CommandInvoked)
        assert in_dm.args == "[U0BEA00001](member:U0BEA00001) for the guide & <3 #docs"

        said = "thanks <@U0BEA00001|bea> and <@W0CAL00001>, not &lt;@U0ADA00001&gt; <!here>"
        text = await hear(event_callback(im_message(ADA, said)))
        assert isinstance(text, MessageReceived)
        assert text.text == (  # what she typed as `<@…>` herself is only text
            "thanks [bea](member:U0BEA00001) and [W0CAL00001](member:W0CAL00001),"
            " not <@U0ADA00001> @here"
        )


async def test_kudos_from_a_slash_command_with_a_refusal_and_a_revocation(
    bot: Bot, slack: SlackEmulator, users: Users
) -> None:
    for user in (ADA, BEA, CAL):  # each has said something to the bot
        await bot.post(slash_command("", user_id=user, channel_id="C0GENERAL1", command="/help"))
        await bot.messages(user, 1)
    async with bot.onramp.db.transaction() as session:
        cal = (
            await session.execute(select(Member).where(Member.display_name == "Cal"))
        ).scalar_one()
        cal.roles = ["manager"]

    # As Slack sends it with "Escape channels, users, and links" on.
    given = slash_command(
        "<@U0BEA00001|bea> for translating the install guide #translation",
        user_id=ADA,
        channel_id="C0GENERAL1",
        command="/kudos",
    )
    assert (await bot.post(given)).status_code == 200
    thanks, badge = (await bot.messages(ADA, 3))[1:]
    assert "Thank you for recognising Bea Bianchi (🌍 Translation)!" in thanks["text"]
    assert "First thanks" in badge["text"]
    told = (await bot.messages(BEA, 2))[1]
    assert "Ada vous remercie : translating the install guide (🌍 Traduction)." in told["text"]

    again = slash_command(
        "<@U0BEA00001|bea> for it", user_id=ADA, channel_id="C0GENERAL1", command="/kudos"
    )
    await bot.post(again)
    assert "in at least 10 characters" in (await bot.messages(ADA, 4))[3]["text"]
    assert await bot.rows(Kudos) == 1

    await bot.post(
        slash_command("revoke 1", user_id=CAL, channel_id="C0GENERAL1", command="/kudos")
    )
    assert "Retirado: el agradecimiento a Bea Bianchi" in (await bot.messages(CAL, 2))[1]["text"]
    await bot.post(slash_command("top all", user_id=ADA, channel_id="C0GENERAL1", command="/kudos"))
    board = (await bot.messages(ADA, 5))[4]["text"]
    assert "Most thanked of all time" in board and "Nobody yet" in board
