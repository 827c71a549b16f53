"""What the flow interpreter (`flows/engine.py`) takes, keeps and gives back: the inputs a
member's turn brings, the state a run keeps between turns, the outputs the core carries out,
and the context templates and conditions read. Plain frozen dataclasses: the core stores
`RunState`, turns `Prompt`s into messages and runs `RunAction`s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from flows import answers as parse


# Inputs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    """Begin the flow at its first step."""


@dataclass(frozen=True)
class Reply:
    text: str


@dataclass(frozen=True)
class Pick:
    choice_ids: tuple[str, ...]


@dataclass(frozen=True)
class Remind:
    """The ask step's timeout passed without an answer."""

    step_id: str


@dataclass(frozen=True)
class Resume:
    """Show the pending question again (the member came back)."""


FlowInput = Start | Reply | Pick | Remind | Resume


# State and outputs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunState:
    step_id: str | None = None
    answers: Mapping[str, Any] = field(default_factory=dict)
    waiting: bool = False
    finished: bool = False
    # A question the bot asked about the answer and waits on (kept with the run, so that it
    # survives a restart): {"kind": "did_you_mean", "option": id, "ids": [...]} or
    # {"kind": "which_zone", "zones": [...]}.
    pending: Mapping[str, Any] | None = None


# What a prompt is: a step's own message (say, ask, nudge: the question again after a while,
# retry: after an answer that was not accepted, end), or what the bot says about an answer:
# did_you_mean (`text` is the option's label; the core adds Yes and No), which_zone
# (`choices` are the zones; the core adds "None of these") and zone_confirmed (`text` is the
# zone in words).
PromptKind = Literal[
    "say", "ask", "nudge", "retry", "end", "did_you_mean", "which_zone", "zone_confirmed"
]
# The kinds that put a step's question to the member.
AskKind = Literal["ask", "nudge", "retry"]


@dataclass(frozen=True)
class Prompt:
    """A message to the member (see `PromptKind`). `reason` is set when an answer was not
    accepted."""

    kind: PromptKind
    step_id: str
    text: str
    choices: tuple[tuple[str, str], ...] = ()
    multiple: bool = False
    input: str | None = None
    reason: str | None = None
    reason_count: int = 0
    # For a nudge: the approved WhatsApp template (name, language or None, parameters).
    template: tuple[str, str | None, tuple[str, ...]] | None = None
    short: str | None = None  # the step's `short:` variant, for members in lite mode
    optional: bool = False  # the question may be skipped ("skip")
    part: str | None = None  # for a retry: the part of a multiple answer not understood


@dataclass(frozen=True)
class SaveAnswer:
    step_id: str
    value: Any


@dataclass(frozen=True)
class SetProfile:
    field: str
    value: Any


@dataclass(frozen=True)
class RunAction:
    step_id: str
    name: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class AwaitInput:
    step_id: str
    timeout: timedelta | None
    expire_after: timedelta | None


Output = Prompt | SaveAnswer | SetProfile | RunAction | AwaitInput


@dataclass(frozen=True)
class Context:
    """What the member looks like to templates and conditions. Updated as `set` steps run."""

    profile: Mapping[str, Any]
    default_locale: str
    community: Mapping[str, Any] = field(default_factory=dict)
    # What the feature that started this run tells its texts (an offer's newcomer and
    # reasons, a check-in's partner): `{{ context.* }}`.
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Profile fields the member set themselves while this run was open (`/language fr`): a
    # question whose answer a `set` step copies whole into one of them is answered already.
    chosen: Mapping[str, Any] = field(default_factory=dict)
    # The words for yes, no and skip in every language (content/system.yaml), and the time
    # (to say a time zone's hour): the core fills both in.
    words: parse.AnswerWords = parse.NO_WORDS
    now: datetime | None = None

    @property
    def locale(self) -> str | None:
        value = self.profile.get("locale")
        return str(value) if value else None


@dataclass(frozen=True)
class Outcome:
    state: RunState
    outputs: list[Output]

    @property
    def prompts(self) -> list[Prompt]:
        return [o for o in self.outputs if isinstance(o, Prompt)]
