"""The Telegram emulator answers the real python-telegram-bot like the Bot API does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.fakes.server import FakeServer
from tests.fakes.telegram import DEFAULT_TOKEN, TelegramEmulator

ADA = 111
GRACE = 222
GROUP = -4_702_845_416
SUPERGROUP = -1_001_234_567_890


@pytest.fixture(autouse=True)
def retry_after_as_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.2+ warns when RetryAfter is built unless this is set; with filterwarnings=error
    # the warning would replace the RetryAfter the test expects.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def emulator() -> Iterator[TelegramEmulator]:
    with TelegramEmulator(unstarted_users={GRACE}) as emulator:
        yield emulator


@pytest.fixture
async def bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        yield bot


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d) for d in data]])


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the emulator never got there")


async def test_get_me_is_the_bot(bot: Bot, emulator: TelegramEmulator) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456789, "onramp_test_bot", True)
    assert bot.username == "onramp_test_bot"  # Bot.initialize() asked getMe too
    assert len(emulator.calls("getMe")) == 2


async def test_send_message_with_a_keyboard_is_recorded_and_answered(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    sent = await bot.send_message(ADA, "Welcome!", reply_markup=keyboard("yes", "no"))
    again = await bot.send_message(SUPERGROUP, "Hello, group")

    assert (sent.message_id, sent.chat.id, sent.chat.type) == (1, ADA, "private")
    assert sent.text == "Welcome!"
    assert sent.from_user is not None and sent.from_user.id == 123456789
    assert sent.reply_markup == keyboard("yes", "no")
    assert (again.message_id, again.chat.type) == (1, "supergroup")
    call = emulator.calls("sendMessage")[0]
    assert call["chat_id"] == ADA
    assert call["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
        ]
    }
    assert emulator.requests[-1].headers["content-type"] == "application/x-www-form-urlencoded"
    assert [m["text"] for m in emulator.messages_to(ADA)] == ["Welcome!"]


async def test_message_ids_increase_per_chat(emulator: TelegramEmulator) -> None:
    emulator.chat_limit = None
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        ids = [(await bot.send_message(ADA, f"{n}")).message_id for n in range(3)]
    assert ids == [1, 2, 3]


async def test_callback_data_over_64_bytes_is_refused(bot: Bot, emulator: TelegramEmulator) -> None:
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ADA, "Pick", reply_markup=keyboard("é" * 33))  # 66 bytes
    assert emulator.messages_to(ADA) == []


async def test_a_second_message_to_a_chat_within_a_second_gets_429(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    await bot.send_message(ADA, "one")
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(ADA, "two")
    assert refused.value.retry_after == timedelta(seconds=1)
    assert [m["text"] for m in emulator.messages_to(ADA)] == ["one"]
    await bot.send_message(ADA + 1, "another chat is fine")


async def test_429_body_is_the_bot_apis(emulator: TelegramEmulator) -> None:
    url = f"{emulator.base_url}{emulator.token}/sendMessage"
    async with httpx.AsyncClient() as client:
        await client.post(url, data={"chat_id": "5", "text": "one"})
        refused = await client.post(url, data={"chat_id": "5", "text": "two"})
    assert refused.status_code == 429
    assert refused.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }


async def test_a_group_gets_20_messages_a_minute() -> None:
    with TelegramEmulator(chat_limit=None) as emulator:
        async with Bot(emulator.token, base_url=emulator.base_url) as bot:
            for n in range(20):
                await bot.send_message(GROUP, f"welcome {n}")
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(GROUP, "one too many")
            await bot.send_message(ADA, "private chats are not group-limited")
    assert isinstance(refused.value.retry_after, timedelta)
    assert timedelta(seconds=50) < refused.value.retry_after <= timedelta(seconds=60)
    assert len(emulator.messages_to(GROUP)) == 20


async def test_limits_can_be_tightened_and_disabled() -> None:
    with TelegramEmulator(chat_limit=None, overall_limit=(3, 1.0)) as emulator:
        async with Bot(emulator.token, base_url=emulator.base_url) as bot:
            for chat in (1, 2, 3):
                await bot.send_message(chat, "hi")
            with pytest.raises(RetryAfter):
                await bot.send_message(4, "over the bot-wide limit")
            emulator.overall_limit = None
            await bot.send_message(4, "no limit now")
            await bot.send_message(4, "none at all")
    assert len(emulator.messages_to(4)) == 2


async def test_a_user_who_never_started_the_bot_is_forbidden(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(GRACE, "Hi Grace")
    emulator.queue_update(emulator.start_message(emulator.user(GRACE, "Grace"), "welcome"))
    sent = await bot.send_message(GRACE, "Hi Grace")
    assert sent.chat.first_name == "Grace"


async def test_a_user_who_blocked_the_bot_is_forbidden(emulator: TelegramEmulator) -> None:
    emulator.blocked_users.add(ADA)
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(ADA, "Hi")


async def test_get_updates_returns_queued_updates_until_confirmed(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    ada = emulator.user(ADA, "Ada", language_code="pt-br")
    emulator.queue_update(emulator.start_message(ada))
    emulator.queue_update(emulator.message(ada, "hello"))

    first = await bot.get_updates(limit=1)
    both = await bot.get_updates()
    assert [u.update_id for u in first] == [1]
    assert [u.message.text for u in both if u.message] == ["/start", "hello"]
    assert both[0].effective_user is not None and both[0].effective_user.language_code == "pt-br"

    assert await bot.get_updates(offset=both[-1].update_id + 1) == ()
    assert (await bot.get_webhook_info()).pending_update_count == 0
    emulator.queue_update(emulator.message(ada, "later"))
    [later] = await bot.get_updates()
    assert (later.update_id, later.message and later.message.text) == (3, "later")


async def test_ptbs_own_polling_loop_runs_against_the_emulator(
    emulator: TelegramEmulator,
) -> None:
    async def welcome(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and context.args is not None
        await update.effective_message.reply_text(f"Welcome via {' '.join(context.args)}")

    app = Application.builder().token(emulator.token).base_url(emulator.base_url).build()
    app.add_handler(CommandHandler("start", welcome))
    async with app:
        assert app.updater is not None
        await app.start()
        await app.updater.start_polling(allowed_updates=["message", "chat_member"])
        emulator.queue_update(emulator.start_message(emulator.user(ADA), "campaign-42"))
        await until(lambda: bool(emulator.messages_to(ADA)))
        await app.updater.stop()
        await app.stop()
    [reply] = emulator.messages_to(ADA)
    assert (reply["message_id"], reply["text"]) == (2, "Welcome via campaign-42")
    assert emulator.calls("getUpdates")[-1]["offset"] == 2  # the update was confirmed


async def test_a_negative_offset_keeps_the_latest(bot: Bot, emulator: TelegramEmulator) -> None:
    ada = emulator.user(ADA)
    for text in ("one", "two", "three"):
        emulator.queue_update(emulator.message(ada, text))
    [last] = await bot.get_updates(offset=-1)
    assert last.message is not None and last.message.text == "three"
    assert len(await bot.get_updates()) == 1


async def test_a_long_poll_answers_when_an_update_arrives(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await until(lambda: emulator.long_polling)
    emulator.queue_update(emulator.message(emulator.user(ADA), "are you there?"))
    [update] = await asyncio.wait_for(poll, 10)  # well before the 30 s timeout
    assert update.message is not None and update.message.text == "are you there?"


async def test_a_long_poll_with_nothing_to_say_answers_empty(bot: Bot) -> None:
    assert await bot.get_updates(timeout=1) == ()


async def test_a_second_poller_ends_the_first_with_a_conflict(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    async with Bot(emulator.token, base_url=emulator.base_url) as other:
        first = asyncio.create_task(bot.get_updates(timeout=30))
        await until(lambda: emulator.long_polling)
        second = asyncio.create_task(other.get_updates(timeout=30))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, 10)
        emulator.queue_update(emulator.message(emulator.user(ADA), "hi"))
        assert len(await asyncio.wait_for(second, 10)) == 1


async def test_chat_member_updates_arrive_only_when_allowed(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    ada = emulator.user(ADA)
    assert emulator.queue_update(emulator.chat_member_joined(SUPERGROUP, ada)) is None
    assert await bot.get_updates() == ()

    await bot.get_updates(allowed_updates=["message", "chat_member"])
    assert emulator.queue_update(emulator.chat_member_joined(SUPERGROUP, ada)) is not None
    [joined] = await bot.get_updates()  # the setting persists
    assert joined.chat_member is not None
    assert joined.chat_member.new_chat_member.user.id == ADA

    await bot.get_updates(allowed_updates=[])  # back to the default
    assert emulator.queue_update(emulator.chat_member_joined(SUPERGROUP, ada)) is None


async def test_polling_and_a_webhook_exclude_each_other(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await until(lambda: emulator.long_polling)
    assert await bot.set_webhook("https://onramp.example.org/telegram", secret_token="s3cr-et_")
    with pytest.raises(Conflict, match="terminated by setWebhook request"):
        await asyncio.wait_for(poll, 10)
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert info.url == "https://onramp.example.org/telegram"
    assert emulator.webhook is not None and emulator.webhook["secret_token"] == "s3cr-et_"

    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()
    assert (await bot.get_webhook_info()).url == ""


async def test_set_webhook_validates_like_telegram(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)An HTTPS URL must be provided for webhook"):
        await bot.set_webhook("http://onramp.example.org/telegram")
    with pytest.raises(BadRequest, match=r"(?i)only on ports 80, 88, 443 or 8443"):
        await bot.set_webhook("https://onramp.example.org:8080/telegram")
    with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed characters"):
        await bot.set_webhook("https://onramp.example.org/telegram", secret_token="no spaces")


async def test_webhook_answers_carry_descriptions(emulator: TelegramEmulator) -> None:
    url = f"{emulator.base_url}{emulator.token}"
    async with httpx.AsyncClient() as client:
        set_ = await client.post(f"{url}/setWebhook", json={"url": "https://x.example/hook"})
        deleted = await client.get(f"{url}/deleteWebhook")
        again = await client.get(f"{url}/deleteWebhook")
    assert set_.json() == {"ok": True, "result": True, "description": "Webhook was set"}
    assert deleted.json()["description"] == "Webhook was deleted"
    assert again.json()["description"] == "Webhook is already deleted"


async def test_commands_are_kept_per_language_and_scope(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    await bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("help", "Get help")])
    await bot.set_my_commands([BotCommand("start", "Começar")], language_code="pt")
    await bot.set_my_commands([BotCommand("kudos", "Thanks")], BotCommandScopeAllGroupChats())

    assert await bot.get_my_commands(language_code="pt") == (BotCommand("start", "Começar"),)
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert emulator.commands("pt") == [{"command": "start", "description": "Começar"}]
    assert emulator.commands(scope={"type": "all_group_chats"})[0]["command"] == "kudos"
    assert await bot.delete_my_commands(language_code="pt")
    assert await bot.get_my_commands(language_code="pt") == ()


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (BotCommand("Start", "Begin"), "BOT_COMMAND_INVALID"),
        (BotCommand("check-in", "Begin"), "BOT_COMMAND_INVALID"),
        (BotCommand("c" * 33, "Begin"), "command length must not exceed 32"),
        (BotCommand("start", " "), "command description must be non-empty"),
        (BotCommand("start", "d" * 257), "command description length must not exceed 256"),
    ],
)
async def test_an_invalid_command_is_refused(
    bot: Bot, emulator: TelegramEmulator, command: BotCommand, error: str
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await bot.set_my_commands([BotCommand("help", "Get help"), command])
    assert emulator.commands() == []


async def test_an_injected_502_reaches_the_bot_once(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.fail("sendMessage", 502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(ADA, "lost")
    await bot.send_message(ADA, "delivered")
    assert [m["text"] for m in emulator.messages_to(ADA)] == ["delivered"]


async def test_an_injected_delay_only_slows_the_answer(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    emulator.fail("getMe", delay=0.2, times=2)
    assert (await bot.get_me()).username == "onramp_test_bot"
    assert (await bot.get_me()).username == "onramp_test_bot"


async def test_editing_replaces_text_and_drops_a_keyboard_left_out(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    sent = await bot.send_message(ADA, "Pick one", reply_markup=keyboard("yes"))
    edited = await bot.edit_message_text("Thanks!", ADA, sent.message_id)
    assert not isinstance(edited, bool)
    assert (edited.text, edited.reply_markup) == ("Thanks!", None)
    assert edited.edit_date is not None
    assert emulator.messages_to(ADA)[0]["text"] == "Thanks!"
    assert "reply_markup" not in emulator.messages_to(ADA)[0]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Thanks!", ADA, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_reply_markup(ADA, 99, reply_markup=keyboard("no"))
    await bot.edit_message_reply_markup(ADA, sent.message_id, reply_markup=keyboard("again"))
    assert emulator.messages_to(ADA)[0]["reply_markup"] == keyboard("again").to_dict()


async def test_a_button_tap_is_a_callback_query_answered_once(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    await bot.send_message(ADA, "Ready?", reply_markup=keyboard("yes", "no"))
    [message] = emulator.messages_to(ADA)
    emulator.queue_update(emulator.callback_query(emulator.user(ADA), message, "yes"))

    [tap] = await bot.get_updates()
    query = tap.callback_query
    assert query is not None and query.message is not None
    assert (query.data, query.from_user.id, query.message.message_id) == ("yes", ADA, 1)
    assert await query.answer("Noted")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer()
    with pytest.raises(ValueError, match="no button"):
        emulator.callback_query(emulator.user(ADA), message, "maybe")


def test_builders_make_updates_in_the_bot_apis_shapes(emulator: TelegramEmulator) -> None:
    bot = Bot(emulator.token)
    ada = emulator.user(ADA, "Ada", last_name="Lovelace", username="ada", language_code="en")
    start = Update.de_json({"update_id": 1, **emulator.start_message(ada, "campaign-42")}, bot)
    joined = Update.de_json({"update_id": 2, **emulator.group_join(GROUP, ada, title="Zeta")}, bot)
    member = Update.de_json({"update_id": 3, **emulator.chat_member_joined(SUPERGROUP, ada)}, bot)

    assert start.message is not None and start.message.text == "/start campaign-42"
    assert start.message.chat.type == "private" and start.message.chat.username == "ada"
    assert start.message.parse_entities() == {start.message.entities[0]: "/start"}
    assert start.message.entities[0].type == "bot_command"
    assert start.message.from_user is not None and start.message.from_user.language_code == "en"

    assert joined.message is not None and joined.message.chat.title == "Zeta"
    assert joined.message.chat.type == "group"
    assert [u.full_name for u in joined.message.new_chat_members] == ["Ada Lovelace"]

    assert member.chat_member is not None and member.chat_member.chat.type == "supergroup"
    assert member.chat_member.old_chat_member.status == "left"
    assert member.chat_member.new_chat_member.status == "member"
    assert member.chat_member.from_user.id == ADA


def test_deep_link_payloads_are_checked_like_telegram(emulator: TelegramEmulator) -> None:
    with pytest.raises(ValueError, match="deep-link payloads"):
        emulator.start_message(emulator.user(ADA), "has spaces")


def test_deliver_webhook_sends_the_secret_header(emulator: TelegramEmulator) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def webhook(request: Request) -> Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return Response(status_code=200 if secret == "s3cret" else 403)

    update = emulator.message(emulator.user(ADA), "hi")
    with FakeServer(Starlette(routes=[Route("/telegram", webhook, methods=["POST"])])) as app:
        accepted = emulator.deliver_webhook(f"{app.url}/telegram", update, "s3cret")
        refused = emulator.deliver_webhook(f"{app.url}/telegram", update, "wrong")
    assert accepted is not None and accepted.status_code == 200
    assert refused is not None and refused.status_code == 403
    assert [secret for secret, _ in received] == ["s3cret", "wrong"]
    assert received[0][1]["update_id"] == 1 and received[1][1]["update_id"] == 2
    assert received[0][1]["message"] == update["message"]


async def test_parameters_arrive_as_json_multipart_or_query(emulator: TelegramEmulator) -> None:
    emulator.chat_limit = None
    url = f"{emulator.base_url}{emulator.token}"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    async with httpx.AsyncClient() as client:
        as_json = await client.post(
            f"{url}/sendMessage", json={"chat_id": "7", "text": "123", "reply_markup": markup}
        )
        as_multipart = await client.post(
            f"{url}/sendMessage",
            data={"chat_id": "7", "text": "ünïcode", "reply_markup": json.dumps(markup)},
            files={"unused": ("note.txt", b"\x00")},
        )
        as_query = await client.get(f"{url}/sendMessage", params={"chat_id": 7, "text": "q"})
    assert [r.status_code for r in (as_json, as_multipart, as_query)] == [200, 200, 200]
    assert [m["text"] for m in emulator.messages_to(7)] == ["123", "ünïcode", "q"]
    assert [call["reply_markup"] for call in emulator.calls("sendMessage")[:2]] == [markup] * 2


async def test_a_wrong_token_or_method_gets_the_bot_apis_errors(
    emulator: TelegramEmulator,
) -> None:
    async with httpx.AsyncClient() as client:
        wrong_token = await client.get(f"{emulator.base_url}1:nope/getMe")
        unknown = await client.get(f"{emulator.base_url}{DEFAULT_TOKEN}/sendTelepathy")
        missing = await client.post(f"{emulator.base_url}{DEFAULT_TOKEN}/sendMessage")
    assert (wrong_token.status_code, wrong_token.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert missing.json()["description"] == "Bad Request: chat_id is empty"
