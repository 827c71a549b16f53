"""`/announcements`: whether a member gets the community's announcements (campaigns).

    /announcements off   no more announcements; typed: "stop announcements",
                         "arrêter les annonces", "parar anuncios", "parar os anúncios",
                         "أوقف الإعلانات", "sitisha matangazo"
    /announcements on    announcements again; typed: "start announcements",
                         "recevoir les annonces", "recibir anuncios"
    /announcements       which it is now

Unlike /stop, it changes nothing else: onboarding, mentorship, check-ins and timers carry on.
On a platform with its own opt-out word (WhatsApp's "STOP"), the dispatcher runs
`/announcements off` for it.
"""

from __future__ import annotations

import re
import unicodedata

from bot import commands
from bot.conversation import record_consent
from bot.registry import Registry
from bot.turn import Turn
from storage import consent as store

PURPOSE = "announcements"
SOURCE = "command"

# The words of TYPED and of `/announcements WORD`, without accents.
OFF = frozenset(
    {"off", "stop", "unsubscribe", "arreter", "desactiver", "parar", "detener", "desactivar"}
    | {"desativar", "sitisha", "zima", "اوقف", "ايقاف", "الغاء"}
)
ON = frozenset(
    {"on", "start", "resume", "subscribe", "recevoir", "reprendre", "activer"}
    | {"recibir", "activar", "reanudar", "receber", "ativar", "retomar", "pokea", "washa"}
    | {"استقبل", "تفعيل", "شغل"}
)

_NOUN = r"(?:announcements?|annonces?|anuncios?|an[uú]ncios?|matangazo|الإعلانات|الاعلانات)"
_VERB = (
    r"(?:stop|unsubscribe|start|resume|subscribe"
    r"|arr[eéê]ter|d[eé]sactiver|recevoir|reprendre|activer"
    r"|parar|detener|desactivar|recibir|activar|reanudar"
    r"|desativar|receber|ativar|retomar|sitisha|zima|pokea|washa"
    r"|أوقف|اوقف|إيقاف|ايقاف|إلغاء|استقبل|تفعيل|شغّل|شغل)"
)
# "stop announcements", "arrêter les annonces", "parar los anuncios", "announcements off":
# the whole message, without a slash. "announcements" alone stays an answer to a question.
TYPED = re.compile(
    rf"(?i)(?P<args>{_VERB}\s+(?:(?:the|my|les|mes|los|mis|os|meus)\s+)?{_NOUN}|{_NOUN}\s+(?:on|off))"
    r"[\s.!]*"
)


def wanted(args: str) -> bool | None:
    """On (True), off (False), or neither (None: the member asks which it is)."""
    decomposed = unicodedata.normalize("NFKD", args.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = set(re.findall(r"\w+", plain))
    if words & OFF:
        return False
    if words & ON:
        return True
    return None


async def announcements(turn: Turn, args: str) -> None:
    choice = wanted(args)
    if choice is None:
        on = await store.granted(turn.session, commands.member_id(turn), PURPOSE)
        status = "announcements_status_on" if on else "announcements_status_off"
        turn.reply(turn.system_text(status))
        return
    await record_consent(turn, PURPOSE, choice, source=SOURCE)
    turn.reply(turn.system_text("announcements_started" if choice else "announcements_stopped"))


def register(registry: Registry) -> None:
    """/announcements."""
    registry.command("announcements", "command_announcements", typed=TYPED)(announcements)
