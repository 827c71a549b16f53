"""Slack and Telegram served by one process: one web server, one database, one sender."""

from __future__ import annotations

import asyncio

import pytest

from bot.settings import AdaptersSettings, Settings
from tests.adapters.test_slack import ADA, configure, people, running
from tests.adapters.test_telegram import SECRET, for_telegram, unlimited_emulator
from tests.fakes.slack import SlackEmulator, event_callback, team_join


async def test_one_process_serves_slack_and_telegram(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret")
    with SlackEmulator(channel_limit=None) as slack, unlimited_emulator() as telegram:
        users = people(slack)
        settings = for_telegram(configure(settings, slack), telegram, monkeypatch)
        settings.adapters = AdaptersSettings(enabled=["slack", "telegram"])
        async with running(settings, slack) as bot:
            assert set(bot.onramp.adapters) == {"slack", "telegram"}
            assert (await bot.post(event_callback(team_join(users[ADA])))).status_code == 200
            await bot.messages(ADA, 2)  # welcome and first question, in Slack

            grace = telegram.user(301, "Grace")
            assert bot.onramp.web is not None
            webhook = f"http://127.0.0.1:{bot.onramp.web.port}/telegram/webhook"
            response = await asyncio.to_thread(
                telegram.deliver_webhook,
                webhook,
                telegram.start_message(grace),
                SECRET,
            )
            assert response is not None and response.status_code == 200
            async with asyncio.timeout(15):
                while len(telegram.messages_to(301)) < 2:  # noqa: ASYNC110  (another thread)
                    await asyncio.sleep(0.02)
            assert telegram.messages_to(301)[0]["text"].startswith("👋 Hello Grace")
            assert slack.messages_to(ADA)[0]["text"].startswith("👋 Hello Ada")
