"""Slack requests that are not what Slack sends, through the real web server and Bolt: each
gets a 4xx (or the 200 Slack expects for what the bot does not use) and one INFO or WARNING
log line, never a 500 or an ERROR traceback, and changes nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from adapters.slack.adapter import EVENTS_PATH
from bot.settings import Settings
from storage.models import Member, Outbox, ProcessedEvent
from tests.adapters.test_slack import (
    ADA,
    SECRET,
    Bot,
    Users,
    configure,
    people,
    running,
    signed,
)
from tests.fakes.slack import SlackEmulator, event_callback, im_message, team_join


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(channel_limit=None) as emulator:
        yield emulator


@pytest.fixture
def users(slack: SlackEmulator) -> Users:
    return people(slack)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)


@pytest.fixture
async def bot(settings: Settings, slack: SlackEmulator, users: Users) -> AsyncIterator[Bot]:
    async with running(configure(settings, slack), slack) as started:
        yield started


def nothing_logged_above_warning(caplog: pytest.LogCaptureFixture) -> None:
    loud = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.levelno > 30]
    assert loud == []
    assert not any(r.exc_info for r in caplog.records)


async def nothing_changed(bot: Bot) -> None:
    for table in (ProcessedEvent, Member, Outbox):
        assert await bot.rows(table) == 0
    assert bot.slack.calls("chat.postMessage") == []


async def still_serving(bot: Bot, users: Users) -> None:
    assert (await bot.post(event_callback(team_join(users[ADA])))).status_code == 200
    await bot.messages(ADA, 2)


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        (b"X-Slack-Signature", b"v0=\xb2\xb2", "X-Slack-Signature"),
        (b"X-Slack-Signature", "v0=ünïcode".encode(), "X-Slack-Signature"),
        (b"X-Slack-Request-Timestamp", b"\xb2", "not a number"),
        (b"X-Slack-Request-Timestamp", "１７００".encode(), "not a number"),
        (b"X-Slack-Request-Timestamp", b"-1", "not a number"),
        (b"X-Slack-Request-Timestamp", b"9" * 400, "not a number"),
        (b"X-Slack-Request-Timestamp", b"99999999999", "more than 5 minutes"),
    ],
)
async def test_junk_in_the_signature_headers_is_refused_with_401(
    bot: Bot,
    users: Users,
    caplog: pytest.LogCaptureFixture,
    header: bytes,
    value: bytes,
    reason: str,
) -> None:
    caplog.set_level(logging.INFO)
    body = event_callback(team_join(users[ADA])).body
    headers = {k.encode(): v.encode() for k, v in signed(body, SECRET, None).items()}
    headers[header] = value
    assert bot.http is not None

    refused = await bot.http.post(EVENTS_PATH, content=body, headers=headers)

    assert refused.status_code == 401
    logged = [r for r in caplog.records if r.msg == "request rejected"]
    assert len(logged) == 1 and reason in logged[0].__dict__["reason"]
    nothing_logged_above_warning(caplog)
    await nothing_changed(bot)
    await still_serving(bot, users)


async def test_an_event_whose_fields_have_the_wrong_types_is_refused_with_400(
    bot: Bot, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wrong = [
        {**im_message(ADA, "hi"), "user": 12345},
        {**im_message(ADA, "hi"), "user": None},
        {**im_message(ADA, "hi"), "text": {"a": 1}},
        {**im_message(ADA, "hi"), "channel": ["D1"]},
        {"type": "team_join", "user": {**users[ADA], "id": 7}},
        {"type": "team_join", "user": {**users[ADA], "profile": "Ada"}},
        {"type": "member_joined_channel", "user": 7, "channel": "C0WELCOME1"},
    ]
    for event in wrong:
        caplog.clear()
        refused = await bot.post(event_callback(event))
        assert refused.status_code == 400, (event, refused.text)
        assert [r.msg for r in caplog.records if r.name == "onramp.web"] == ["request rejected"]
        nothing_logged_above_warning(caplog)
    await nothing_changed(bot)
    await still_serving(bot, users)


async def test_a_slash_command_or_a_press_with_wrong_types_is_refused(
    bot: Bot, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    press = {
        "type": "block_actions",
        "user": {"id": 5},
        "container": {"channel_id": 3, "message_ts": ["1.2"]},
        "actions": [{"action_id": "onramp.choice.0", "value": '{"step": 1, "choice": []}'}],
        "state": "ticked",
        "message": "the question",
    }
    for body in (
        b"payload=" + json.dumps(press).encode(),
        b"payload=" + json.dumps({**press, "actions": "none"}).encode(),
        b"payload=" + json.dumps({"type": "block_actions", "user": "U1", "actions": [1]}).encode(),
        b"command=%2Fhelp&user_id=&trigger_id=1",
        b"command=%2F&user_id=U1&trigger_id=1",
    ):
        caplog.clear()
        answer = await bot.post(body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 400, (body, answer.text)
        assert [r.msg for r in caplog.records if r.name == "onramp.web"] == ["request rejected"]
        nothing_logged_above_warning(caplog)
    await nothing_changed(bot)
    await still_serving(bot, users)


async def test_deeply_nested_json_is_refused_with_400(
    bot: Bot, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    nested = b'{"type": "event_callback", "event_id": "Ev1", "event": {"type": "x", "a": '
    for body in (nested + b"[" * 900 + b"]" * 900 + b"}}", nested + b"[" * 5000 + b"]" * 5000):
        refused = await bot.post(body, headers={"Content-Type": "application/json"})
        assert refused.status_code == 400
        assert "nested deeper than 32 levels" in refused.text
    nothing_logged_above_warning(caplog)
    await nothing_changed(bot)
