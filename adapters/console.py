"""Chat with the bot in a terminal. Works interactively and with piped stdin (scriptable)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import sys
import threading
import uuid
from itertools import count
from typing import IO, TYPE_CHECKING, Any

from bot.adapter import Adapter, Capabilities, Inbox, SystemText
from bot.events import CommandInvoked, Event, MemberJoined, MessageReceived, parse_typed_command
from bot.messages import OutgoingMessage
from bot.settings import Settings

# rich (with the Pygments lexers its Markdown brings) is imported when the console is used:
# every process reads the console adapter's class among the installed ones (2.8 MB).
if TYPE_CHECKING:
    from rich.console import Console

# A member, written [name](member:ID) by the core: shown as their name.
MENTION = re.compile(r"\[([^\]]*)\]\(member:[^)]*\)")
log = logging.getLogger("onramp.console")
QUIT = {"/quit", "/exit"}
REPLY_WAIT_SECONDS = 30
PREVIEW_WIDTH = 80  # columns of a terminal


class ConsoleAdapter(Adapter):
    name = "console"
    capabilities = Capabilities(max_buttons=0, markdown="markdown", can_start_dm=True)

    def __init__(
        self, settings: Settings, stdin: IO[str] | None = None, stdout: IO[str] | None = None
    ) -> None:
        named = settings.console.user or os.environ.get("USER")
        self.user = named or "newcomer"
        self.display_name = settings.console.display_name or named or ""
        self.stdin = stdin or sys.stdin
        from rich.console import Console

        self.out: Console = Console(file=stdout or sys.stdout, highlight=False, soft_wrap=True)
        self.echo = not self.stdin.isatty()
        self.session = uuid.uuid4().hex[:12]
        self._numbers = count(1)
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._text: SystemText | None = None
        self._locale: str | None = None  # the member's, as the last message was written in

    def set_texts(self, text: SystemText) -> None:
        self._text = text

    def _say(self, key: str, style: str) -> None:
        """One of the console's own lines (content/system.yaml), in the member's language."""
        if self._text is None:
            raise RuntimeError("the console prints the bot's texts: call set_texts() first")
        from rich.markup import escape

        self.out.print(f"[{style}]{escape(self._text(key, self._locale))}[/{style}]")

    def _event(self, kind: type[Event], n: int, **fields: Any) -> Event:
        return kind(
            platform=self.name,
            dedupe_key=f"console:{self.session}:{n}",
            actor=self.user,
            conversation=self.user,
            display_name=self.display_name,
            **fields,
        )

    async def start(self, inbox: Inbox) -> None:
        self._task = asyncio.create_task(self._chat(inbox), name="console-chat")
        self._task.add_done_callback(lambda _: self._closed.set())

    async def _chat(self, inbox: Inbox) -> None:
        self._say("console_intro", "dim")
        await self._submit(inbox, self._event(MemberJoined, 0))
        lines = self._read_lines()
        for n in count(1):
            line = await lines.get()
            if not line:
                break
            text = line.rstrip("\n")
            if self.echo:
                self.out.print(
                    f"[bold cyan]{self.display_name} ›[/bold cyan] {text}",
                    markup=True,
                    highlight=False,
                )
            if text.strip().casefold() in QUIT:
                break
            if not text.strip():
                continue
            command = parse_typed_command(text)
            event = (
                self._event(CommandInvoked, n, name=command[0], args=command[1])
                if command
                else self._event(MessageReceived, n, text=text)
            )
            await self._submit(inbox, event)
        self._say("console_goodbye", "dim")

    def _read_lines(self) -> asyncio.Queue[str]:
        """Read stdin on a daemon thread, so Ctrl-C never waits for a line to be typed."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue()

        def read() -> None:
            for line in iter(self.stdin.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, "")

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        return queue

    async def _submit(self, inbox: Inbox, event: Event) -> None:
        try:
            receipt = await inbox(event)
        except Exception:
            log.exception("could not handle console input")
            self._say("console_failed", "red")
            return
        if receipt.settled is not None:
            try:
                await asyncio.wait_for(receipt.settled, REPLY_WAIT_SECONDS)
            except TimeoutError:
                self._say("console_slow", "yellow")

    async def send(self, message: OutgoingMessage) -> str:
        from rich.markdown import Markdown
        from rich.markup import escape

        self._locale = message.locale or self._locale
        self.out.print("[bold green]Onramp ›[/bold green]", markup=True)
        # In chat every line break is meant: make each one a Markdown hard break.
        text = MENTION.sub(r"**\1**", message.text.strip())  # a member: their name
        self.out.print(Markdown(text.replace("\n", "  \n")))
        for number, choice in enumerate(message.choices, start=1):
            self.out.print(f"  [bold]{number}.[/bold] {escape(choice.label)}", markup=True)
        if message.choices and message.answer_hint:
            self.out.print(f"  [dim italic]{escape(message.answer_hint)}[/dim italic]", markup=True)
        return f"console-{self.session}-{next(self._numbers)}"

    async def closed(self) -> None:
        await self._closed.wait()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def routes(self) -> list[Any]:
        return []

    @classmethod
    def render_preview(cls, message: OutgoingMessage) -> str:
        """The message as the terminal shows it (without colours), for a campaign's preview."""
        from rich.console import Console
        from rich.markdown import Markdown

        shown = io.StringIO()
        out = Console(file=shown, width=PREVIEW_WIDTH, force_terminal=False, color_system=None)
        text = MENTION.sub(r"**\1**", message.text.strip())
        out.print(Markdown(text.replace("\n", "  \n")))
        for number, choice in enumerate(message.choices, start=1):
            out.print(f"  {number}. {choice.label}", markup=False, highlight=False)
        if message.choices and message.answer_hint:
            out.print(f"  {message.answer_hint}", markup=False, highlight=False)
        return "\n".join(line.rstrip() for line in shown.getvalue().splitlines()).strip()
