"""What members write stays text in what the bot tells others: a shout-out in a channel, the
leaderboard, a mentor's introduction. Through the memory adapter, then each platform's own
renderer (what its adapter sends), so that one test sees every platform."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from adapters.markdown import PLAIN, WORD_JOINER, render
from adapters.memory import Chat, MemoryAdapter
from adapters.slack.adapter import SlackAdapter
from adapters.telegram.adapter import TelegramAdapter
from adapters.whatsapp.adapter import WhatsAppAdapter
from adapters.zulip.adapter import ZulipAdapter
from bot.messages import OutgoingMessage
from bot.runtime import Onramp
from bot.settings import Settings
from tests.bot.test_mentorship import person, sign_up
from tests.conftest import CONTENT

GIVER = "[Claim your prize](https://evil.example/win) @**all** <!channel> *boss*"
REASON = "[Reset your password](https://evil.example/login) [you](member:mallory) @**everyone**"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The sample content, shouting out in the memory platform's "kudos-wall" channel."""
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    path = content / "recognition.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("shout_out_channels: {}", "shout_out_channels: {memory: kudos-wall}"),
        encoding="utf-8",
    )
    settings.content.path = content
    return settings


def as_each_platform(message: OutgoingMessage) -> dict[str, str]:
    return {
        adapter.name: adapter.render_preview(message)
        for adapter in (SlackAdapter, TelegramAdapter, ZulipAdapter, WhatsAppAdapter)
    }


def assert_text_only(shown: dict[str, str]) -> None:
    """Nothing a member wrote is a link, a mention or formatting on any platform (the
    author's own bold around a name is fine)."""
    assert not re.search(r"<[@!#]|<https?://evil", shown["slack"]), shown["slack"]
    telegram = shown["telegram"]
    assert '<a href="https://evil' not in telegram and "<b>x" not in telegram, telegram
    assert "tg://user?id=mallory" not in telegram, telegram
    for live in ("@**all**", "@**everyone**", "](https://evil"):
        assert live not in shown["zulip"], (live, shown["zulip"])
    for platform in ("slack", "whatsapp"):
        assert "*boss*" not in shown[platform] and "*the*" not in shown[platform], shown


async def test_a_shout_out_names_and_quotes_members_as_text(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    mallory = Chat(memory, user="mallory", display_name=GIVER)
    bea = Chat(memory, user="bea", display_name="Bea")
    for chat in (mallory, bea):
        await chat.say("/help")
    await mallory.say(f"/kudos @bea for {REASON}")
    [shout] = [m for m in Chat(memory, user="kudos-wall").messages if "thanks Bea" in m.text]
    assert render(shout.text, PLAIN) == (
        f"🎉 {GIVER} thanks Bea for [Reset your password](https://evil.example/login) @you"
        " @**everyone** (💛 Helping others)"
    )
    shown = as_each_platform(shout)
    assert_text_only(shown)
    assert html.unescape(shown["zulip"]).startswith(f"🎉 {GIVER} thanks Bea")


async def test_the_leaderboard_shows_names_as_text(onramp: Onramp, memory: MemoryAdapter) -> None:
    cal = Chat(memory, user="cal", display_name="Cal")
    star = Chat(memory, user="star", display_name=GIVER)
    for chat in (cal, star):
        await chat.say("/help")
    await cal.say(f'/kudos @"{GIVER}" for writing the docs')
    await cal.say("/kudos top all")
    board = cal.messages[-1]
    assert "*boss*" not in board.text  # escaped: not emphasis
    assert f"🥇 {GIVER}: 1" in render(board.text, PLAIN)
    assert_text_only(as_each_platform(board))


async def test_a_mentor_introduction_mentions_both_and_quotes_the_bio_as_text(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    bea = await person(onramp, memory, "bea", "Bea *the* [mentor](https://evil.example)")
    await sign_up(bea)
    ada = await person(onramp, memory, "ada", "Ada <b>x</b> @**all**", interests=["docs"])
    await ada.say("/mentor")
    offer = bea.expect("would like a mentor")
    assert_text_only(as_each_platform(offer))
    await bea.press("accept")
    intro = bea.expect("Meet Ada")
    telegram = TelegramAdapter.render_preview(intro)
    # The bot's own mention of Ada is a mention, with her name as text in it; nothing else is.
    links = re.findall(r'<a href="([^"]*)">([^<]*)</a>', telegram)
    assert links == [("tg://user?id=ada", "Ada &lt;b&gt;x&lt;/b&gt; @**all**")]
    assert "<b>x</b>" not in telegram
    zulip = ZulipAdapter.render_preview(intro)
    assert zulip.count("@_**") == 1 and "@**all**" not in zulip
    told = next(m for m in ada.messages if "will be your mentor" in m.text)
    assert "[mentor](https://evil.example)" in render(told.text, PLAIN)
    assert '<a href="https://evil' not in TelegramAdapter.render_preview(told)
    assert WORD_JOINER in WhatsAppAdapter.render_preview(told)  # *the* is not bold
