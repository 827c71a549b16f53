"""What members write stays text, on every platform: hostile names and kudos reasons go
through the real SDKs to the emulators, and what the emulators received is read the way each
platform reads it: no link to evil.example, no mention of a third person, no mass mention, no
bold or code from member text; the bot's own markup still works.

Bare URLs stay visible text (every platform links an address someone typed, in plain sight);
what must never happen is a link hidden behind words, or a mention the member did not have.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from adapters.markdown import WORD_JOINER
from adapters.whatsapp.messages import template
from bot.messages import OutgoingMessage, TemplateRef
from bot.settings import Settings
from storage.models import Member
from tests.adapters import test_slack as slack_harness
from tests.adapters import test_telegram as telegram_harness
from tests.adapters import test_whatsapp as whatsapp_harness
from tests.adapters import test_zulip as zulip_harness
from tests.fakes.slack import SlackEmulator, slash_command
from tests.fakes.telegram import TelegramEmulator
from tests.fakes.whatsapp import WhatsAppEmulator
from tests.fakes.zulip import ZulipEmulator
from tests.flows.test_markup import zulip_shows

EVIL_NAME = "[Claim your prize](https://evil.example/win) [admin](member:777) *boss*"
# The reason as it reaches the core: a link, a member link typed as it is, and formatting.
EVIL_REASON = "[Reset your password](https://evil.example/login) [you](member:{third}) *x* `y`"


def _formatted(text: str, marker: str) -> bool:
    """Slack's and WhatsApp's rule for formatting (neither has an escape character): a marker
    at a word boundary, next to the text it marks, closed the same way."""
    m = re.escape(marker)
    edge = r"[\s.,;:!?()'\"]"
    return bool(re.search(rf"(?:^|(?<={edge})){m}(?=\S)[^{m}\n]*?(?<=\S){m}(?=$|{edge})", text))


class TelegramHtml(HTMLParser):
    """What Telegram makes of a message sent with parse_mode HTML: its tags and its text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.shown = ""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.shown += data


# Telegram.


async def test_telegram_a_hostile_first_name_and_reason_stay_text(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with telegram_harness.unlimited_emulator() as emulator:
        configured = telegram_harness.for_telegram(settings, emulator, monkeypatch)
        async with telegram_harness.serving(configured, emulator) as served:
            await _on_telegram(served, emulator)


async def _on_telegram(served: Any, emulator: TelegramEmulator) -> None:
    Person = telegram_harness.Person
    ada = Person(served, emulator.user(telegram_harness.ADA, EVIL_NAME, username="ada_l"))
    bea = Person(served, emulator.user(7_003, "Bea", username="bea_b"))

    # The group welcome names her: as text, with the bot's own button.
    group = telegram_harness.GROUP
    assert await served.deliver(emulator.group_join(group, ada.user)) == 200
    await served.outbox_idle()
    [welcome] = emulator.messages_to(group)
    parsed = TelegramHtml(welcome["text"])
    assert parsed.tags == []  # no link, no mention (tg://user?id=777), no bold
    assert f"Welcome to Open Health Commons, {EVIL_NAME}! 👋" in parsed.shown

    for person in (ada, bea):
        await person.say("/help")
    reason = EVIL_REASON.format(third=777)
    await ada.say(f"/kudos @bea_b for {reason} <b>z</b> <a href='https://evil.example'>w</a>")
    told = TelegramHtml(bea.inbox()[-1]["text"])
    assert told.tags == [], bea.inbox()[-1]["text"]
    assert told.shown == (
        f"🎉 {EVIL_NAME} thanked you for [Reset your password](https://evil.example/login)"
        " @you *x* `y` <b>z</b> <a href='https://evil.example'>w</a> (💛 Helping others)."
    )
    thanks = TelegramHtml(ada.inbox()[-2]["text"])
    assert "Thank you for recognising Bea (💛 Helping others)!" in thanks.shown


# Slack.


async def test_slack_a_hostile_display_name_and_reason_stay_text(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("SLACK_BOT_TOKEN", "xoxb-test"), ("SLACK_APP_TOKEN", "xapp-test")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", slack_harness.SECRET)
    with SlackEmulator(channel_limit=None) as slack:
        slack.add_user(slack_harness.ADA, display_name=EVIL_NAME + " <!channel>")
        slack.add_user(slack_harness.BEA, display_name="Bea")
        slack.add_user(slack_harness.CAL, display_name="Cal")
        configured = slack_harness.configure(settings, slack)
        async with slack_harness.running(configured, slack) as bot:
            await _on_slack(bot, slack)


async def _on_slack(bot: Any, slack: SlackEmulator) -> None:
    ada, bea, cal = slack_harness.ADA, slack_harness.BEA, slack_harness.CAL
    for user in (ada, bea):
        await bot.post(slash_command("", user_id=user, channel_id="C0GENERAL1", command="/help"))
        await bot.messages(user, 1)
    # As Slack sends it: "@channel" typed in the app is <!channel>, a mention <@U…|name>,
    # what looks like an address is linked, and a typed "<" comes as &lt;.
    typed = (
        "<@U0BEA00001|bea> for <https://evil.example/login|Reset your password> "
        "[Claim](<https://evil.example/win>) "
        f"[you](member:{cal}) <@{cal}|cal> <!channel> <!here> &lt;!everyone&gt; *x* _y_ `z`"
    )
    given = slash_command(typed, user_id=ada, channel_id="C0GENERAL1", command="/kudos")
    assert (await bot.post(given)).status_code == 200
    told = (await bot.messages(bea, 2))[1]
    for text in _slack_texts(told):
        assert not re.search(r"<[@!#]", text), text  # no mention of anyone, no @channel
        assert not re.search(r"<https?://evil", text), text  # no link behind words
        member_part = text.split("thanked you", 1)[0] + text.split("thanked you", 1)[1]
        assert not any(_formatted(member_part, m) for m in "*_~`"), text
        shown = html.unescape(text.replace(WORD_JOINER, ""))
        assert shown == (
            f"🎉 {EVIL_NAME} <!channel> thanked you for Reset your password"
            " [Claim](https://evil.example/win) @you @cal @channel @here <!everyone> *x* _y_ `z`"
            " (💛 Helping others)."
        ), shown
    # The bot's own markup still renders: bold in the thanks, a real mention where it means one.
    assert (
        "Thank you for recognising Bea (💛 Helping others)!"
        in (await bot.messages(ada, 2))[1]["text"]
    )


def _slack_texts(message: dict[str, Any]) -> list[str]:
    """Every mrkdwn text of a Slack message: its `text`, and its section blocks'."""
    blocks = message.get("blocks") or []
    sections = [b["text"]["text"] for b in blocks if b.get("type") == "section"]
    return [str(message["text"]), *sections]


# Zulip.


async def test_zulip_a_hostile_full_name_and_reason_mention_no_one(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.database.url = database_url
    with ZulipEmulator(rate_limit=None) as emulator:
        configured = zulip_harness.for_zulip(settings, emulator, monkeypatch)
        async with zulip_harness.serving(configured, emulator) as served:
            await zulip_harness.until(lambda: emulator.long_polls == 1, "the first long poll")
            await _on_zulip(served, emulator)


async def _on_zulip(served: Any, emulator: ZulipEmulator) -> None:
    Person = zulip_harness.Person
    ada = Person(served, emulator.add_user(EVIL_NAME + " @**all** @*admins* #**general**"))
    bea = Person(served, emulator.add_user("Bea Bianchi"))
    cal = emulator.add_user("Cal")
    for person in (ada, bea):
        await person.say("/help")
    reason = (
        f"[Reset your password](https://evil.example/login) @**Cal|{cal['user_id']}**"
        " @**all** @**everyone** @**stream** @**channel** @**topic** @_**Cal** @*admins*"
        " #**general** <time:2030-01-01T10:00:00Z> ~~gone~~ $$x$$ **b** `c` &amp;"
    )
    await ada.say(f"/kudos @**Bea Bianchi|{bea.id}** for {reason}")
    told = bea.inbox()[-1]
    for live in ("@**", "@_**", "@*", "#**", "](", "`", "~~", "$$", "<time", "**"):
        assert live not in told, (live, told)
    # Zulip reads entities as their characters: what the members typed, with the mention of
    # Cal in the reason shown as the name it stood for.
    assert zulip_shows(told) == (
        f"🎉 {EVIL_NAME} @**all** @*admins* #**general** thanked you for"
        " [Reset your password](https://evil.example/login) @Cal @**all** @**everyone**"
        " @**stream** @**channel** @**topic** @Cal @*admins* #**general**"
        " <time:2030-01-01T10:00:00Z> ~~gone~~ $$x$$ **b** `c` &amp; (💛 Helping others)."
    )
    assert "Thank you for recognising Bea Bianchi (💛 Helping others)!" in ada.inbox()[-2]


# WhatsApp.


async def test_whatsapp_a_hostile_profile_name_and_reason_are_not_formatted(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, grace = whatsapp_harness.ADA, whatsapp_harness.GRACE
    with whatsapp_harness.unlimited_emulator() as emulator:
        emulator.user(ada, "*Ada* _the_ ~boss~ ```x```")
        emulator.user(grace, "Grace Hopper")
        configured = whatsapp_harness.for_whatsapp(settings, emulator, monkeypatch, database_url)
        async with whatsapp_harness.serving(configured, emulator) as served:
            await _on_whatsapp(served, emulator)


async def _on_whatsapp(served: Any, emulator: WhatsAppEmulator) -> None:
    Person = whatsapp_harness.Person
    ada = Person(served, whatsapp_harness.ADA)
    grace = Person(served, whatsapp_harness.GRACE)
    for person in (ada, grace):
        await person.say("hello")
    reason = EVIL_REASON.format(third=whatsapp_harness.GRACE) + " _z_ ~w~"
    await ada.say(f'kudos @"Grace Hopper" for {reason}')
    told = next(
        whatsapp_harness.shown(sent)
        for sent in reversed(grace.inbox())
        if "thanked you" in whatsapp_harness.shown(sent)
    )
    assert not any(_formatted(told, m) for m in "*_~`"), told
    assert told.replace(WORD_JOINER, "") == (
        "🎉 *Ada* _the_ ~boss~ ```x``` thanked you for"
        " [Reset your password](https://evil.example/login) @you *x* `y` _z_ ~w~"
        " (💛 Helping others)."
    )
    async with served.onramp.db.reading() as session:
        names = set((await session.execute(select(col(Member.display_name)))).scalars())
    assert "*Ada* _the_ ~boss~ ```x```" in names  # kept as typed: escaping is for showing


def test_whatsapp_template_parameters_are_not_formatted() -> None:
    # Outside the 24-hour window a nudge goes as an approved template, its parameters filled
    # with member text (their name): WhatsApp would format it there too.
    nudge = OutgoingMessage(
        "whatsapp",
        whatsapp_harness.ADA,
        "reminder",
        template=TemplateRef("onboarding_reminder", "en", ("*Ada* _the_ ~boss~",)),
    )
    [parameter] = template(nudge)["template"]["components"][0]["parameters"]
    assert not any(_formatted(parameter["text"], m) for m in "*_~`"), parameter
    assert parameter["text"].replace(WORD_JOINER, "") == "*Ada* _the_ ~boss~"
