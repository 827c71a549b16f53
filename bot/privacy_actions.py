"""What /privacy's three choices do: export, erase (once confirmed), and consent per purpose.

An erasure happens in the member's own turn, as `onramp forget` does it: whoever shares a
mentorship or an offer with them is told and moved on (`leaving`), then `forget_member`. The
member row is gone by the end of the turn, so the last message, which says what was kept and
why, is queued without a member (as a post to a conversation is): to their private chat.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot import privacy_web
from bot.adapter import available_adapters
from bot.consent import wanted
from bot.mentorship.offers import member_leaving
from bot.messages import Choice, Document
from bot.purposes import purposes_of, set_purpose
from bot.turn import Turn
from flows.answers import match_choice
from flows.content import ContentTree
from flows.markup import Markdown
from flows.schema import AskStep
from flows.schema import Choice as ContentChoice
from storage.privacy import export_member, forget_member

PRESS = "press"  # the one choice of a one-button message
CONFIRM_MINUTES = 15  # how long an erasure's confirm button works
CONSOLE = "console"  # the member is at this machine: their export is a file here
_MENTION = re.compile(r"@|<@|^\d+$")


def plain(text: str) -> str:
    """Case and accents (and Arabic marks) aside, for comparing words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def has_buttons(turn: Turn) -> bool:
    """Whether the member can tap: their platform has buttons and they read rich messages."""
    return turn.mode == "rich" and _platform_has_buttons(turn.identity.platform)


@functools.cache
def _platform_has_buttons(platform: str) -> bool:
    factory = available_adapters().get(platform)
    return factory is None or factory.capabilities.max_buttons > 0


def button(label: str, step: str) -> dict[str, Any]:
    """`turn.reply`'s arguments for a message with one button, pressed as `privacy.<step>`."""
    return {"choices": (Choice(PRESS, label),), "step_id": f"privacy.{step}"}


async def export(turn: Turn) -> None:
    """A file written here on the console; elsewhere the file in the member's private chat,
    where their platform carries one that big; else a one-time link, when a web app serves
    them (the document is made when the link is used)."""
    served = privacy_web.served(turn.registry)
    if turn.identity.platform == CONSOLE:
        path = _write(served.exports, turn, await export_member(turn.session, turn.member))
        turn.audit("privacy.exported", via="file")
        turn.reply(turn.system_text("privacy_export_file", path=Markdown(f"`{path}`")))
        return
    largest = served.max_document_bytes(turn.identity.platform)
    if largest > 0:
        document = await _document(turn)
        if document.size <= largest:
            turn.audit("privacy.exported", via="document", size=document.size)
            turn.reply(
                turn.system_text("privacy_export_document"),
                document=document,
                if_undelivered=turn.system_text("privacy_export_undelivered"),
            )
            return
        turn.audit("privacy.export_too_big", size=document.size, limit=largest)
    if served.downloads is None:
        turn.audit("privacy.export_unavailable")
        turn.reply(turn.system_text("privacy_export_no_link"))
        return
    url = await served.downloads.new_link(turn.session, turn.member.id or 0, turn.now)
    minutes = int(served.downloads.lifetime.total_seconds() // 60)
    turn.audit("privacy.export_link_sent", minutes=minutes)
    link = Markdown(f"<{url}>")
    turn.reply(turn.system_text("privacy_export_link", count=minutes, url=link), links=True)


async def _document(turn: Turn) -> Document:
    """The member's export as a JSON file, named as the web app's download is."""
    text = _json(await export_member(turn.session, turn.member))
    name = f"onramp-data-{turn.now:%Y%m%d}.json"
    return Document(name=name, media_type="application/json", content=text.encode("utf-8"))


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


def _write(folder: Path, turn: Turn, document: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"onramp-data-{turn.member.id}-{turn.now:%Y%m%dT%H%M%SZ}.json"
    text = _json(document)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # theirs alone
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    return path


async def erase_asked(turn: Turn, rest: list[str]) -> None:
    """`/privacy erase`: the confirmation, or, with their language's word after it, the
    erasure. Anything naming someone else is refused: operators erase others."""
    if any(_MENTION.search(word) for word in rest):
        turn.audit("privacy.erase_refused", reason="someone_else")
        turn.reply(turn.system_text("privacy_erase_others"))
        return
    if rest and _confirms(turn, rest):
        await erase(turn)
        return
    turn.audit("privacy.erase_asked")
    text = turn.system_text("privacy_erase_confirm")
    if has_buttons(turn):
        asked = int(turn.now.timestamp())
        label = turn.system_text("privacy_erase_confirm_button")
        turn.reply(text, **button(label, f"erase.{asked}"))
    else:
        word = turn.system_text("privacy_erase_word")
        typed = turn.system_text("privacy_erase_confirm_typed", command=f"/privacy erase {word}")
        turn.reply(f"{text}\n\n{typed}")


def _confirms(turn: Turn, rest: list[str]) -> bool:
    """The erasure's word, in any of the community's languages (the member's is shown)."""
    locales = turn.content.community.locales
    words = {plain(turn.system_text("privacy_erase_word", locale=locale)) for locale in locales}
    return plain(" ".join(rest)) in words


async def erase_confirmed(turn: Turn, asked: int) -> None:
    """The confirm button: the erasure, if it was asked less than CONFIRM_MINUTES ago."""
    if turn.now.timestamp() - asked > timedelta(minutes=CONFIRM_MINUTES).total_seconds():
        turn.audit("privacy.erase_expired")
        turn.reply(turn.system_text("privacy_erase_expired"))
        return
    await erase(turn)


async def erase(turn: Turn) -> None:
    if turn.newcomer:  # made by this very event: nothing to erase
        turn.reply(turn.system_text("privacy_erase_nothing"))
        return
    # The dispatcher notes the member's activity after the turn: already noted for now, it
    # writes nothing about a member who is gone by then.
    turn.member.last_active_at = turn.now
    await leaving(turn)
    turn.farewell(turn.system_text("privacy_erased"))
    await forget_member(
        turn.session,
        turn.member,
        actor="member",
        # what they become in others' messages: one text, in the community's language
        former=turn.system_text("former_member", locale=turn.content.community.default_locale),
        free_text=free_text_steps(turn.content),
    )


FREE_TEXT = frozenset({"text", "email", "url", "regex"})  # inputs a member words themselves


def free_text_steps(content: ContentTree) -> frozenset[tuple[str, str]]:
    """The (flow, step) of every question answered in the member's own words, whose answers
    an erasure takes out of other people's text too (not choices, numbers, time zones)."""
    return frozenset(
        (flow.id, step.id)
        for flow in content.flows.values()
        for step in flow.steps
        if isinstance(step, AskStep) and step.input in FREE_TEXT
    )


async def leaving(turn: Turn) -> None:
    """Before an erasure (in chat, or `onramp forget`): whoever shares a mentorship or an
    offer with the member is told and moved on; what the turn queued so far is written, so
    that the erasure takes the member's own messages and audit entries with the rest."""
    await member_leaving(turn)
    await turn.flush()


async def consent(turn: Turn, rest: list[str]) -> None:
    """Each purpose with the member's choice; with words, `NAME on|off` changes one."""
    found = await purposes_of(turn.session, turn.content, turn.member)
    if rest:
        wanted_purpose = _purpose_named(turn, [p.name for p in found], rest)
        choice = wanted(" ".join(rest))
        if wanted_purpose is None or choice is None:
            known = ", ".join(f"`{p.name}` ({purpose_name(turn, p.name)})" for p in found)
            turn.reply(turn.system_text("privacy_consent_unknown", known=Markdown(known)))
            return
        await consent_pressed(turn, wanted_purpose, choice)
        return
    turn.audit("privacy.consent_shown")
    if not has_buttons(turn):
        lines = [turn.system_text("privacy_consent_intro"), ""]
        lines += [_line(turn, p.name, p.granted) for p in found]
        turn.reply("\n".join([*lines, "", turn.system_text("privacy_consent_typed")]))
        return
    turn.reply(turn.system_text("privacy_consent_intro"))
    for purpose in found:
        _toggle(turn, purpose.name, purpose.granted, _line(turn, purpose.name, purpose.granted))


async def consent_pressed(turn: Turn, purpose: str, granted: bool) -> None:
    if purpose not in turn.content.community.purposes():
        turn.reply(turn.system_text("privacy_consent_unknown", known=""))
        return
    await set_purpose(turn, purpose, granted)
    text = turn.system_text("privacy_consent_changed", line=Markdown(_line(turn, purpose, granted)))
    if has_buttons(turn):
        _toggle(turn, purpose, granted, text)
    else:
        turn.reply(text)


def _toggle(turn: Turn, purpose: str, granted: bool, text: str) -> None:
    """A purpose's message, with the one button that flips it."""
    if granted:
        turn.reply(
            text, **button(turn.system_text("privacy_consent_turn_off"), f"consent.{purpose}.off")
        )
    else:
        turn.reply(
            text, **button(turn.system_text("privacy_consent_turn_on"), f"consent.{purpose}.on")
        )


def _line(turn: Turn, purpose: str, granted: bool) -> str:
    name = purpose_name(turn, purpose)
    state = (
        turn.system_text("privacy_consent_yes")
        if granted
        else turn.system_text("privacy_consent_no")
    )
    return f"{'✅' if granted else '⬜'} **{name}**: {state}"


def purpose_name(turn: Turn, purpose: str, locale: str | None = None) -> str:
    """The purpose in the member's words, or in `locale` (a community's own: its id)."""
    match purpose:
        case "answers":
            return turn.system_text("privacy_purpose_answers", locale=locale)
        case "mentorship":
            return turn.system_text("privacy_purpose_mentorship", locale=locale)
        case "leaderboards":
            return turn.system_text("privacy_purpose_leaderboards", locale=locale)
        case "announcements":
            return turn.system_text("privacy_purpose_announcements", locale=locale)
        case "statistics":
            return turn.system_text("privacy_purpose_statistics", locale=locale)
    return purpose


def _purpose_named(turn: Turn, purposes: list[str], rest: list[str]) -> str | None:
    """The purpose the member's words name (the on or off word aside), as an answer names a
    choice (flows/answers.py): its id, its name in any of the languages, or a word or prefix
    of a name that only one purpose has ("clasificaciones", "annonces"), typos forgiven."""
    said = " ".join(w for w in rest if wanted(w) is None)
    locales = turn.content.community.locales
    choices = [
        # (built as it is: a community's own purpose id need not be a valid choice id)
        ContentChoice.model_construct(
            id=purpose, label={shown: purpose_name(turn, purpose, shown) for shown in locales}
        )
        for purpose in purposes
    ]
    found = match_choice(said, choices, guess=True)
    return found.id if found is not None else None
