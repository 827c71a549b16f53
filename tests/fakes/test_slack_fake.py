"""The Slack emulator answers the real slack-sdk, slack-bolt and Socket Mode client like Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMessage
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.server import Fault
from tests.fakes.slack import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    SlackEmulator,
    block_actions,
    dm_channel_id,
    event_callback,
    im_message,
    member_joined_channel,
    signed_headers,
    slash_command,
    team_join,
    url_verification,
)

SECRET = "signing-secret"
ADA = "U0ADA00001"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "Welcome, *Ada*!"}}]


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        emulator.add_user(ADA, display_name="Ada", real_name="Ada Lovelace", tz="Europe/London")
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


async def test_auth_test_identifies_the_bot(client: AsyncWebClient) -> None:
    answer = await client.auth_test()

    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == (
        TEAM_ID,
        BOT_USER_ID,
        BOT_ID,
    )
    assert answer["url"].startswith("https://") and answer["team"] and answer["user"]
    assert "chat:write" in answer.headers["x-oauth-scopes"]


async def test_a_wrong_or_missing_token_is_refused(slack: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as wrong:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=slack.api_url).auth_test()
    with pytest.raises(SlackApiError) as app_token:
        await AsyncWebClient(token=slack.app_token, base_url=slack.api_url).auth_test()

    assert wrong.value.response["error"] == "invalid_auth"
    assert missing.value.response["error"] == "not_authed"
    assert app_token.value.response["error"] == "not_allowed_token_type"


async def test_an_unknown_method_is_named_in_the_error(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as error:
        await client.api_call("chat.frobnicate")

    assert error.value.response.data == {
        "ok": False,
        "error": "unknown_method",
        "req_method": "chat.frobnicate",
    }


async def test_conversations_open_gives_each_member_one_dm(client: AsyncWebClient) -> None:
    first = await client.conversations_open(users=ADA)
    again = await client.conversations_open(users=[ADA])

    assert first["channel"]["id"] == again["channel"]["id"] == dm_channel_id(ADA)
    assert first["channel"]["id"].startswith("D")
    assert again["already_open"] is True
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.conversations_open(users="U0NOBODY01")


async def test_post_message_is_delivered_and_recorded(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    dm = (await client.conversations_open(users=ADA))["channel"]["id"]
    slack.add_channel("C0GENERAL1")

    posted = await client.chat_postMessage(channel=dm, text="Welcome, Ada!", blocks=BLOCKS)
    other = await client.chat_postMessage(channel="C0GENERAL1", text="Ada joined")

    assert posted["channel"] == dm
    assert posted["message"]["blocks"] == BLOCKS
    assert posted["message"]["bot_id"] == BOT_ID
    assert float(other["ts"]) > float(posted["ts"])
    assert slack.calls("chat.postMessage")[0]["blocks"] == BLOCKS
    assert [m["text"] for m in slack.messages_to(ADA)] == ["Welcome, Ada!"]
    assert slack.messages_to(dm) == slack.messages_to(ADA)
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel="C0MISSING1", text="hello?")


async def test_form_encoded_blocks_are_decoded(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    await client.api_call(
        "chat.postMessage", data={"channel": ADA, "text": "hi", "blocks": json.dumps(BLOCKS)}
    )

    assert slack.messages_to(ADA)[0]["blocks"] == BLOCKS


async def test_a_second_post_to_a_channel_within_a_second_is_rate_limited(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel=ADA, text="one")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=ADA, text="two")

    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert int(limited.value.response.headers["Retry-After"]) >= 1
    assert [m["text"] for m in slack.messages_to(ADA)] == ["one"]
    assert [c["text"] for c in slack.calls("chat.postMessage")] == ["one", "two"]


async def test_limits_can_be_lifted_or_set_for_the_whole_workspace() -> None:
    with SlackEmulator(channel_limit=None, workspace_limit=(2, 60.0)) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        for channel in ("C0ONE00001", "C0TWO00001", "C0THREE001"):
            slack.add_channel(channel)
        await client.chat_postMessage(channel="C0ONE00001", text="1")
        await client.chat_postMessage(channel="C0ONE00001", text="2")
        with pytest.raises(SlackApiError) as limited:
            await client.chat_postMessage(channel="C0TWO00001", text="3")

    assert limited.value.response.status_code == 429
    assert int(limited.value.response.headers["Retry-After"]) >= 1
    assert len(slack.messages_to("C0ONE00001")) == 2


async def test_an_injected_503_surfaces_once(slack: SlackEmulator, client: AsyncWebClient) -> None:
    slack.faults.add(Fault(status=503, path="chat.postMessage"))

    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel=ADA, text="lost")
    await client.chat_postMessage(channel=ADA, text="delivered")

    assert failed.value.response.status_code == 503
    assert [m["text"] for m in slack.messages_to(ADA)] == ["delivered"]


async def test_a_delayed_reply_arrives_after_a_later_quick_one(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    slack.faults.add(Fault(delay=0.5, path="chat.postMessage"))
    finished: list[str] = []

    async def call(name: str, request: Any) -> None:
        await request
        finished.append(name)

    slow = asyncio.create_task(call("slow", client.chat_postMessage(channel=ADA, text="late")))
    await asyncio.sleep(0.05)  # let the slow request reach the emulator first
    await call("quick", client.auth_test())
    await slow

    assert finished == ["quick", "slow"]
    assert [m["text"] for m in slack.messages_to(ADA)] == ["late"]


async def test_update_edits_and_ephemeral_answers(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel=ADA, text="Step 1 of 3")

    updated = await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="Done")
    ephemeral = await client.chat_postEphemeral(channel=posted["channel"], user=ADA, text="psst")

    assert updated["ts"] == posted["ts"] and updated["text"] == "Done"
    assert slack.messages_to(ADA)[0]["text"] == "Done"
    assert "edited" in slack.messages_to(ADA)[0]
    assert ephemeral["message_ts"]
    with pytest.raises(SlackApiError, match="message_not_found"):
        await client.chat_update(channel=posted["channel"], ts="1.000001", text="?")


async def test_users_info_shows_the_locale_only_when_asked(client: AsyncWebClient) -> None:
    plain = await client.users_info(user=ADA)
    with_locale = await client.users_info(user=ADA, include_locale=True)

    assert plain["user"]["profile"]["display_name"] == "Ada"
    assert plain["user"]["real_name"] == "Ada Lovelace"
    assert plain["user"]["tz"] == "Europe/London"
    assert "locale" not in plain["user"]
    assert with_locale["user"]["locale"] == "en-US"


async def test_a_bolt_app_authorizes_against_the_emulator_and_answers_what_slack_sends(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    app = AsyncApp(signing_secret=SECRET, client=client, process_before_response=True)
    seen: list[str] = []

    @app.event("team_join")
    async def welcome(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.chat_postMessage(channel=event["user"]["id"], text="Welcome!")

    @app.event("member_joined_channel")
    async def joined(event: dict[str, Any]) -> None:
        seen.append(f"joined {event['channel']}")

    @app.event("message")
    async def message(event: dict[str, Any]) -> None:
        seen.append(f"{event['channel_type']}: {event['text']}")

    @app.command("/onboard")
    async def onboard(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(f"starting {command['text']}")

    @app.action("start")
    async def start(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen.append(f"pressed {body['actions'][0]['value']} on {body['container']['message_ts']}")

    async def deliver(body: bytes, secret: str = SECRET) -> Any:
        headers: dict[str, str | Sequence[str]] = {**signed_headers(body, secret)}
        return await app.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))

    ada = (await client.users_info(user=ADA))["user"]
    joined_team = await deliver(event_callback(team_join(ada)).body)
    await deliver(event_callback(member_joined_channel(ADA, "C0GENERAL1")).body)
    await deliver(event_callback(im_message(ADA, "hello")).body)
    command = await deliver(
        slash_command("mentor", user_id=ADA, channel_id=dm_channel_id(ADA)).body
    )
    welcome_message = slack.messages_to(ADA)[0]
    pressed = block_actions(
        user_id=ADA,
        action_id="start",
        value="go",
        message=welcome_message,
        channel_id=dm_channel_id(ADA),
    )
    await deliver(pressed.body)
    challenge = await deliver(url_verification("xyz").body)
    forged = await deliver(event_callback(team_join(ada)).body, secret="not-the-secret")

    assert joined_team.status == 200
    assert len(slack.calls("auth.test")) == 1  # once, then cached by the app
    assert [m["text"] for m in slack.messages_to(ADA)] == ["Welcome!"]
    assert command.status == 200 and "starting mentor" in command.body
    assert seen == ["joined C0GENERAL1", "im: hello", f"pressed go on {welcome_message['ts']}"]
    assert json.loads(challenge.body) == {"challenge": "xyz"}
    assert forged.status == 401


async def test_socket_mode_client_receives_an_envelope_and_its_ack_is_recorded(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    socket_client = SocketModeClient(app_token=slack.app_token, web_client=client)
    frames: list[dict[str, Any]] = []
    received: list[SocketModeRequest] = []

    async def on_frame(message: WSMessage) -> None:
        frames.append(json.loads(message.data))

    async def on_request(socket: Any, request: SocketModeRequest) -> None:
        received.append(request)
        await socket.send_socket_mode_response(SocketModeResponse(request.envelope_id))

    socket_client.on_message_listeners.append(on_frame)
    socket_client.socket_mode_request_listeners.append(on_request)
    await socket_client.connect()
    try:
        await slack.wait_for_connection()
        inbound = event_callback(team_join({"id": ADA}), event_id="Ev0JOIN0001")
        envelope_id = await slack.push(inbound.envelope_type, inbound.payload)
        ack = await slack.wait_for_ack(envelope_id)
    finally:
        await socket_client.close()

    assert slack.calls("apps.connections.open") == [{}]
    assert frames[0]["type"] == "hello"
    assert frames[1]["envelope_id"] == envelope_id
    assert frames[1]["retry_attempt"] == 0 and frames[1]["accepts_response_payload"] is False
    assert received[0].type == "events_api"
    assert received[0].payload["event_id"] == "Ev0JOIN0001"
    assert ack == {"envelope_id": envelope_id}


async def test_a_socket_mode_url_works_once(slack: SlackEmulator, client: AsyncWebClient) -> None:
    url = (await client.apps_connections_open(app_token=slack.app_token))["url"]
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await client.apps_connections_open(app_token=slack.bot_token)

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as first:
            hello = await first.receive_json()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(url)

    assert hello["type"] == "hello" and url.startswith("ws://127.0.0.1:")


def test_signed_headers_pass_slacks_own_verifier() -> None:
    body = event_callback(im_message(ADA, "hi")).body
    form = slash_command("", user_id=ADA, channel_id="C0GENERAL1").body

    headers = signed_headers(body, SECRET)

    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    assert not SignatureVerifier(SECRET).is_valid_request(body + b" ", headers)
    assert headers["Content-Type"] == "application/json"
    assert signed_headers(form, SECRET)["Content-Type"] == "application/x-www-form-urlencoded"
