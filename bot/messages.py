"""What the core hands adapters: messages in a small Markdown subset, with optional choices."""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from storage.statuses import DELETE_ONCE_SETTLED as DELETE_ONCE_SETTLED  # (re-exported)
from storage.statuses import FAREWELL as FAREWELL
from storage.statuses import SETTLED_FLAGS

GROUP = "group:"  # a recipient that is several members at once: group:ID,ID,…


def group_recipient(external_ids: list[str] | tuple[str, ...]) -> str:
    """The recipient of a conversation with these members (where `can_group_dm`)."""
    return GROUP + ",".join(external_ids)


def group_members(recipient: str) -> tuple[str, ...] | None:
    """The members of a group recipient, or None for one member or a channel."""
    if not recipient.startswith(GROUP):
        return None
    return tuple(member for member in recipient.removeprefix(GROUP).split(",") if member)


@dataclass(frozen=True)
class Choice:
    id: str
    label: str


@dataclass(frozen=True)
class TemplateRef:
    """An approved template (WhatsApp) for when free text may not be sent."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Invite:
    """A button that opens a private chat with the bot (a Telegram deep link), carrying
    `source` so the member's first `/start` says where they came from."""

    label: str
    source: str


# In an outbox row's payload: what to tell the recipient, as a message of its own, if this one
# is given up on (a data export a platform refused for good: they learn to ask again).
IF_UNDELIVERED = "if_undelivered"


def deleted_once_settled(payload: dict[str, Any]) -> bool:
    """Whether an outbox row with this payload goes once its delivery is settled."""
    return any(payload.get(flag) for flag in SETTLED_FLAGS)


@dataclass(frozen=True)
class Document:
    """A file sent with a message (a member's data export), where the platform carries files
    (`Capabilities.max_document_bytes`): its name, media type and bytes. In an outbox row's
    payload its content is text when it is UTF-8 (JSON is), else base64."""

    name: str
    media_type: str
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)

    def to_payload(self) -> dict[str, Any]:
        head = {"name": self.name, "media_type": self.media_type}
        try:
            return head | {"text": self.content.decode("utf-8")}
        except UnicodeDecodeError:
            return head | {"base64": base64.b64encode(self.content).decode("ascii")}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Document:
        if "text" in data:
            content = str(data["text"]).encode("utf-8")
        else:
            try:
                content = base64.b64decode(str(data.get("base64", "")), validate=True)
            except binascii.Error:
                content = b""
        return cls(name=str(data["name"]), media_type=str(data["media_type"]), content=content)


@dataclass(frozen=True)
class OutgoingMessage:
    """Text is Markdown: **bold**, *italic*, `code`, [links](https://…) and line breaks.
    Whatever a member wrote is escaped in it (flows/markup.py): text, never markup."""

    platform: str
    recipient: str
    text: str
    choices: tuple[Choice, ...] = ()
    multiple: bool = False
    step_id: str | None = None  # the question these choices answer
    answer_hint: str | None = None  # how to answer in words, for platforms without buttons
    submit_label: str | None = None  # the button that sends a multiple choice's ticked options
    choose_label: str | None = None  # the button that opens a list of choices (WhatsApp)
    locale: str | None = None
    template: TemplateRef | None = None
    invite: Invite | None = None
    # When the member last wrote to the bot on this platform, if ever: WhatsApp may send free
    # text only within 24 hours of it, and an approved `template` after that.
    last_inbound_at: datetime | None = None
    workspace: str = ""
    # The campaign it belongs to, if any: it then takes no more of the platform's rate than
    # campaigns may, and its outcome is recorded on the campaign's recipient row.
    campaign: int | None = None
    # How the member wants messages (/mode): "rich", or "text" and "lite", which the core has
    # already made numbered text; in "lite" an adapter also turns link previews off.
    mode: str = "rich"
    # A file sent with the text (the text is its caption), where the platform carries files.
    document: Document | None = None
    outbox_id: int | None = field(default=None, compare=False)

    @property
    def lite(self) -> bool:
        return self.mode == "lite"

    def to_payload(self) -> dict[str, Any]:
        """What the outbox stores; platform and recipient have columns of their own."""
        payload: dict[str, Any] = {
            "text": self.text,
            "choices": [{"id": c.id, "label": c.label} for c in self.choices],
            "multiple": self.multiple,
            "step_id": self.step_id,
            "answer_hint": self.answer_hint,
            "submit_label": self.submit_label,
            "choose_label": self.choose_label,
            "locale": self.locale,
            "template": asdict(self.template) if self.template else None,
            "invite": asdict(self.invite) if self.invite else None,
            "last_inbound_at": self.last_inbound_at.isoformat() if self.last_inbound_at else None,
            "workspace": self.workspace,
            "campaign": self.campaign,
            "mode": self.mode,
        }
        if self.document is not None:  # only then: other messages' rows stay as they were
            payload["document"] = self.document.to_payload()
        return payload

    @classmethod
    def from_payload(
        cls, platform: str, recipient: str, payload: dict[str, Any], outbox_id: int | None = None
    ) -> OutgoingMessage:
        data = dict(payload)
        data.pop(IF_UNDELIVERED, None)  # the sender's, not the platform's
        for flag in SETTLED_FLAGS:  # the sender's business, not the platform's
            data.pop(flag, None)
        document = data.pop("document", None)
        choices = tuple(Choice(**c) for c in data.pop("choices", ()))
        template = data.pop("template", None)
        invite = data.pop("invite", None)
        last_inbound = data.pop("last_inbound_at", None)
        return cls(
            platform=platform,
            recipient=recipient,
            choices=choices,
            template=TemplateRef(**{**template, "parameters": tuple(template["parameters"])})
            if template
            else None,
            invite=Invite(**invite) if invite else None,
            last_inbound_at=datetime.fromisoformat(last_inbound) if last_inbound else None,
            document=Document.from_payload(document) if document else None,
            outbox_id=outbox_id,
            **data,
        )


def numbered_text(message: OutgoingMessage) -> str:
    """Choices as a numbered list under the text, for platforms without buttons."""
    if not message.choices:
        return message.text
    options = "\n".join(f"{n}. {c.label}" for n, c in enumerate(message.choices, start=1))
    hint = f"\n\n_{message.answer_hint}_" if message.answer_hint else ""
    return f"{message.text.rstrip()}\n\n{options}{hint}"
