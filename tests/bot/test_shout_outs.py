"""Shout-outs and badge announcements in a community's recognition channel, rate-limited."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.memory import Chat, MemoryAdapter
from bot.runtime import Onramp
from bot.settings import Settings
from tests.conftest import CONTENT


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The sample content, announcing in the memory platform's "kudos-wall" channel, at most
    two an hour."""
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    path = content / "recognition.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("shout_out_channels: {}", "shout_out_channels: {memory: kudos-wall}")
    text = text.replace("shout_outs_per_hour: 10", "shout_outs_per_hour: 2")
    path.write_text(text, encoding="utf-8")
    settings.content.path = content
    return settings


async def test_kudos_are_shouted_out_within_the_hourly_limit(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada = Chat(memory, user="ada", display_name="Ada")
    bea = Chat(memory, user="bea", display_name="Bea", locale_hint="fr")
    for chat in (ada, bea):
        await chat.say("/help")
    wall = Chat(memory, user="kudos-wall")
    for n in range(3):
        await ada.say(f"/kudos @bea for pull request number {n} #code")
    shouts = [m.text for m in wall.messages]
    assert shouts == [
        "🎉 Ada thanks Bea for pull request number 0 (💻 Code)",
        "🏅 Ada earned the badge 🌱 First thanks!",
        "🎉 Ada thanks Bea for pull request number 1 (💻 Code)",
    ]  # the third kudos is recorded and told, but the hour's two shout-outs are spent
    assert all(m.locale == "en" for m in wall.messages)  # the community's language
    told = [m.text for m in bea.messages if "vous remercie" in m.text]
    assert len(told) == 3


async def test_who_withdrew_leaderboards_is_neither_shouted_out_nor_announced(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada = Chat(memory, user="ada", display_name="Ada")
    bea = Chat(memory, user="bea", display_name="Bea")
    for chat in (ada, bea):
        await chat.say("/help")
        chat.skip()
    await ada.say("/privacy consent leaderboards off")
    ada.expect("Saved", "no")
    wall = Chat(memory, user="kudos-wall")
    await ada.say("/kudos @bea for the release notes #docs")
    ada.expect("Bea")  # thanked, and told
    ada.expect("First thanks")  # her badge, said to her alone
    await bea.say("/kudos @ada for the review #code")
    # Neither kudos names her in the channel, nor does her badge; Bea's badge is announced.
    assert [m.text for m in wall.messages] == ["🏅 Bea earned the badge 🌱 First thanks!"]
    await ada.say("/privacy consent leaderboards on")
    await bea.say("/kudos @ada for the second review #code")
    assert [m.text for m in wall.messages][1:] == [
        "🎉 Bea thanks Ada for the second review (💻 Code)"
    ]
