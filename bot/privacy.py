"""`/privacy`: what Onramp keeps about a member, for how long and why, and their rights over it.

    /privacy            what is kept (with the retention settings in force), which platforms'
                        identities this member record covers, then three choices
    /privacy export     their data as JSON: a file on the console, else a one-time link
    /privacy erase      asks to confirm; `/privacy erase ERASE` (the word in their language)
                        or the confirm button erases them, as `onramp forget` does
    /privacy consent    each purpose with their choice; `/privacy consent NAME on|off`

Typed without a slash too: "my data", "export my data", "erase my data", "mes données",
"effacer mes données", "mis datos", "meus dados", "بياناتي", "data zangu"…

The choices are buttons where the platform has them (and the member reads messages in rich
mode): the summary's three (`privacy.menu`), the confirmation (`privacy.erase.<when>`), a
purpose's (`privacy.consent.NAME.on|off`), each brought back as a late answer with the ids of
the choices pressed. Elsewhere the member types the commands, which each message names.
Erasing someone else is for the operators' CLI, never chat.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlmodel import col

from bot import privacy_actions as actions
from bot.messages import Choice
from bot.privacy_actions import plain
from bot.privacy_web import served
from bot.registry import Registry
from bot.turn import Turn
from storage.models import Identity

PLATFORM_NAMES = {
    "slack": "Slack",
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "zulip": "Zulip",
    "console": "console",
}
_MISSING = object()

EXPORT = frozenset({"export", "download", "exporter", "telecharger", "exportar", "descargar"})
EXPORT |= {"baixar", "hamisha", "pakua", "تصدير", "تنزيل"}
ERASE = frozenset({"erase", "delete", "forget", "effacer", "supprimer", "oublier", "borrar"})
ERASE |= {"eliminar", "olvidar", "apagar", "excluir", "esquecer", "futa", "امسح", "احذف", "حذف"}
CONSENT = frozenset({"consent", "consents", "consentement", "consentements", "consentimiento"})
CONSENT |= {"consentimientos", "consentimento", "consentimentos", "ridhaa", "idhini", "موافقة"}
CONSENT |= {"موافقاتي", "الموافقة"}

_VERB = (
    r"(?:export|download|erase|delete|exporter|t[ée]l[ée]charger|effacer|supprimer"
    r"|exportar|descargar|borrar|eliminar|baixar|apagar|excluir|hamisha|pakua|futa"
    r"|تصدير|تنزيل|امسح|احذف)"
)
_MY_DATA = r"(?:my\s+data|mes\s+donn[ée]es|mis\s+datos|meus\s+dados|بياناتي|data\s+zangu)"
# "my data", "export my data", "effacer mes données", "privacy settings": the whole message.
MENU = ("export", "consent", "erase")  # the summary's buttons, in this order
TYPED = re.compile(
    rf"(?i)(?P<args>(?:{_VERB}\s+)?{_MY_DATA}|privacy\s+settings|my\s+privacy"
    r"|ma\s+confidentialit[ée]|mi\s+privacidad|minha\s+privacidade|faragha\s+yangu)[\s.!?]*"
)


def action_of(args: str) -> tuple[str | None, list[str]]:
    """What the member asks for (export, erase, consent or None: the summary) and the words
    after it."""
    words = args.split()
    for at, word in enumerate(words):
        found = plain(word)
        for name, known in (("export", EXPORT), ("erase", ERASE), ("consent", CONSENT)):
            if found in {plain(k) for k in known}:
                return name, words[at + 1 :]
    return None, words


async def privacy(turn: Turn, args: str) -> None:
    if turn.unreachable_in_private("privacy_in_private", "privacy"):
        return
    action, rest = action_of(args)
    if action == "export":
        await actions.export(turn)
    elif action == "erase":
        await actions.erase_asked(turn, rest)
    elif action == "consent":
        await actions.consent(turn, rest)
    else:
        await summary(turn)


async def summary(turn: Turn) -> None:
    retention = served(turn.registry).settings.retention

    def kept(*settings: str) -> str:
        return _how_long(turn, retention, settings)

    lines = [
        turn.system_text("privacy_intro"),
        "",
        turn.system_text("privacy_kept_profile", how_long=kept()),
        turn.system_text("privacy_kept_answers", how_long=kept("answers_days")),
        turn.system_text("privacy_kept_messages", how_long=kept("sent_messages_days")),
        turn.system_text("privacy_kept_activity", how_long=kept("activity_days")),
        turn.system_text("privacy_kept_events", how_long=kept("processed_events_days")),
        turn.system_text("privacy_kept_failed", how_long=kept("failed_events_days")),
        turn.system_text("privacy_kept_audit", how_long=kept("audit_log_days")),
    ]
    platforms = await _platforms(turn)
    lines += ["", turn.system_text("privacy_platforms", platforms=", ".join(platforms))]
    turn.audit("privacy.shown")
    if not actions.has_buttons(turn):
        turn.reply("\n".join(lines))
        turn.reply(turn.system_text("privacy_typed_choices"))
        return
    offers = [
        turn.system_text("privacy_export_offer"),
        turn.system_text("privacy_consent_offer"),
        turn.system_text("privacy_erase_offer"),
    ]
    choices = tuple(Choice(choice, turn.system_text(f"privacy_button_{choice}")) for choice in MENU)
    turn.reply("\n".join([*lines, "", *offers]), choices=choices, step_id="privacy.menu")


def _how_long(turn: Turn, retention: object, settings: tuple[str, ...]) -> str:
    """How long the first of these retention settings that exists keeps data ("30 days"; one
    another version lacks is skipped), or "until you erase it" (no setting, or "keep")."""
    for name in settings:
        days = getattr(retention, name, _MISSING)
        if days is _MISSING:
            continue
        if isinstance(days, int) and not isinstance(days, bool):
            return turn.system_text("privacy_days", count=days)
        break  # None: kept until the member is erased
    return turn.system_text("privacy_kept_until_erased")


async def _platforms(turn: Turn) -> list[str]:
    """The platforms of this member record's identities, in a stable order."""
    statement = select(col(Identity.platform)).where(col(Identity.member_id) == turn.member.id)
    found = sorted(set((await turn.session.execute(statement)).scalars()))
    return [PLATFORM_NAMES.get(name, name) for name in found or [turn.identity.platform]]


async def pressed(turn: Turn, step_id: str, choice_ids: tuple[str, ...] = ()) -> bool:
    """One of /privacy's buttons: the summary's three (`privacy.menu`: export, consent or
    erase), `privacy.erase.<when asked>` (the confirmation) or
    `privacy.consent.<purpose>.<on|off>`; `privacy.export`, `privacy.consent` and
    `privacy.erase` as earlier versions sent them."""
    parts = step_id.split(".")
    if parts[0] != "privacy" or len(parts) < 2:
        return False
    if turn.newcomer:  # made by this very tap: whoever pressed it before was erased
        turn.reply(turn.system_text("privacy_erase_nothing"))
        return True
    if parts[1:] == ["menu"]:
        if len(choice_ids) != 1 or choice_ids[0] not in MENU:
            return False
        parts = ["privacy", choice_ids[0]]
    elif choice_ids not in ((), (actions.PRESS,)):
        return False  # not this one-button message's choice
    match parts[1:]:
        case ["export"]:
            await actions.export(turn)
        case ["consent"]:
            await actions.consent(turn, [])
        case ["consent", purpose, ("on" | "off") as state]:
            await actions.consent_pressed(turn, purpose, state == "on")
        case ["erase"]:
            await actions.erase_asked(turn, [])
        case ["erase", asked] if asked.isdigit():
            await actions.erase_confirmed(turn, int(asked))
        case _:
            return False
    return True


def register(registry: Registry) -> None:
    """/privacy, and its buttons pressed (each is a question no flow waits for)."""
    registry.command("privacy", "command_privacy", typed=TYPED)(privacy)
    registry.on_late_answer(pressed)
