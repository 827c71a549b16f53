"""The `onramp` command line, run as a newcomer would run it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from storage.migrate import head_revision
from tests.support.launcher import run_module

ROOT = Path(__file__).resolve().parents[2]


def onramp(
    *args: str, cwd: Path = ROOT, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_module("bot.cli", args, input=stdin, cwd=cwd, env={**os.environ, **(env or {})})


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {
        "ONRAMP_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'onramp.db'}",
        "ONRAMP_LOGGING__FILE": str(tmp_path / "onramp.log"),
    }


def test_help_lists_every_command() -> None:
    result = onramp("--help")
    assert result.returncode == 0
    for command in ("run", "check", "export", "forget", "mentors", "db"):
        assert f"│ {command} " in result.stdout


def test_check_passes_on_the_shipped_content() -> None:
    result = onramp("check")
    assert result.returncode == 0, result.stdout
    assert "7 flow(s), 2 campaign(s), 6 locale(s), 0 warning(s). All good." in result.stdout


def _line(path: Path, text: str) -> int:
    """The number of the first line of `path` holding `text` (which may end with a newline)."""
    lines = path.read_text().splitlines(keepends=True)
    return next(n for n, line in enumerate(lines, start=1) if text in line)


def test_check_fails_with_every_error_on_one_line_each(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    flow = content / "flows" / "onboarding.yaml"
    flow.write_text(flow.read_text().replace("goto: declined", "goto: declind"))
    survey = content / "flows" / "feedback.yaml"
    survey.write_text(
        survey.read_text().replace("  - id: comment\n", "  - id: comment\n    colour: red\n")
    )
    result = onramp("check", str(content))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    # Where each line is in the files as they are now (translations make them longer).
    colour, goto = _line(survey, "    colour: red"), _line(flow, "goto: declind")
    declined, goodbye = _line(flow, "- id: declined\n"), _line(flow, "- id: declined_goodbye")
    assert lines[:2] == [
        f"content/flows/feedback.yaml:{colour} step 'comment': unknown key 'colour'; remove it "
        "or check the authoring guide",
        f"content/flows/onboarding.yaml:{goto} step 'check_consent': goto 'declind' does not "
        "exist; did you mean 'declined'?",
    ]
    # the two steps only the broken goto led to are now unreachable: warned, not failed
    assert [line.split(": ")[0] for line in lines[2:4]] == [
        f"content/flows/onboarding.yaml:{declined} step 'declined'",
        f"content/flows/onboarding.yaml:{goodbye} step 'declined_goodbye'",
    ]
    assert lines[4].startswith("2 error(s), 2 warning(s)")


def test_the_bot_refuses_to_start_on_broken_content(tmp_path: Path, home: dict[str, str]) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    (content / "flows" / "broken.yaml").write_text("id: [\n")
    result = onramp("run", env={**home, "ONRAMP_CONTENT__PATH": str(content)})
    assert result.returncode == 1
    assert "will not start" in result.stderr and "broken.yaml:" in result.stderr


def test_console_chat_export_and_forget(home: dict[str, str]) -> None:
    chat = onramp("run", "--as", "Zuri", stdin="3\n1\nNairobi\n", env=home)
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.index("Which language") < chat.stdout.index("¡Hola Zuri")  # asked first
    assert "¿Te parece bien?" in chat.stdout  # consent, in the language chosen
    assert "¿En qué zona horaria estás?" in chat.stdout
    assert "¿En qué te gustaría ayudar?" in chat.stdout
    assert chat.stdout.rstrip().endswith(
        "¡Hasta pronto! Vuelve a abrirme cuando quieras para seguir donde lo dejaste."
    )

    resumed = onramp("run", "--as", "Zuri", stdin="", env=home)
    assert "¿En qué te gustaría ayudar?" in resumed.stdout  # exactly where they left off

    exported = onramp("export", "console:Zuri", env=home)
    assert exported.returncode == 0
    document = json.loads(exported.stdout)
    assert document["member"]["timezone"] == "Africa/Nairobi"
    assert document["member"]["locale"] == "es"
    assert {a["step_id"] for a in document["answer"]} == {"consent", "language", "timezone"}
    assert document["identity"][0]["external_id"] == "Zuri"
    assert len(document["outbox"]) >= 5

    refused = onramp("forget", "console:Zuri", stdin="n\n", env=home)
    assert refused.returncode == 1
    again = onramp("export", "console:Zuri", env=home)
    assert again.returncode == 0  # still there
    # each export is audited (who asked: an operator), without the data
    audited = [
        (a["actor"], a["action"], a["detail"]) for a in json.loads(again.stdout)["audit_log"]
    ]
    assert ("cli", "member.exported", {}) in audited

    forgotten = onramp("forget", "console:Zuri", "--yes", env=home)
    assert forgotten.returncode == 0
    gone = onramp("export", "console:Zuri", env=home)
    assert gone.returncode == 1 and "No member 'console:Zuri'" in gone.stderr


def test_db_upgrade_and_current(home: dict[str, str]) -> None:
    newest = head_revision()  # the last file in storage/migrations/versions
    assert newest is not None and newest.isdigit()
    upgraded = onramp("db", "upgrade", env=home)
    assert upgraded.returncode == 0 and f"database at revision {newest}" in upgraded.stdout
    current = onramp("db", "current", env=home)
    assert f"database: {newest}; newest: {newest}" in current.stdout


def test_unknown_adapter_is_a_clear_error(home: dict[str, str]) -> None:
    result = onramp("run", "--adapter", "matrix", env=home)
    assert result.returncode == 2
    assert "unknown adapter(s): matrix" in result.stderr


def test_a_platform_without_its_secret_is_a_clear_error(home: dict[str, str]) -> None:
    env = {**home, "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
    result = onramp("run", "--adapter", "slack", env=env)
    assert result.returncode == 1
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_platforms_are_chosen_by_the_secrets_in_the_environment() -> None:
    from bot.adapter import available_adapters
    from bot.runtime import configured_adapters
    from bot.settings import load_settings

    settings = load_settings(ROOT / "bot.toml")
    factories = available_adapters()
    secrets = ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "TELEGRAM_BOT_TOKEN"]
    with pytest.MonkeyPatch.context() as env:
        for name in secrets:
            env.setenv(name, "")
        assert configured_adapters(settings, factories) == ["console"]
        env.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
        assert configured_adapters(settings, factories) == ["telegram"]
        env.setenv("SLACK_BOT_TOKEN", "xoxb-1")
        assert configured_adapters(settings, factories) == ["telegram"]  # no signing secret
        env.setenv("SLACK_SIGNING_SECRET", "shh")
        assert configured_adapters(settings, factories) == ["slack", "telegram"]


async def _two_mentors(url: str) -> None:
    from storage import mentorship
    from storage.members import create_member
    from storage.migrate import upgrade
    from storage.session import Database
    from tests.storage.rows import NOW

    db = Database.from_url(url)
    try:
        await upgrade(db.engine)
        async with db.transaction() as session:
            ids = []
            for name in ("Aminata", "Luis [b]", "Ada"):  # a name is text, not console markup
                _, member = await create_member(
                    session, platform="console", workspace="", external_id=name, display_name=name
                )
                ids.append(member.id)
            aminata, luis, ada = ids
            await mentorship.save_profile(
                session,
                aminata,
                NOW,
                topics=["docs"],
                languages=["fr", "wo"],
                hours=(18, 21),
                capacity=1,
            )
            await mentorship.save_profile(
                session, luis, NOW, topics=["code"], languages=["es"], hours=None, capacity=2
            )
            await mentorship.set_paused(session, luis, True, NOW)
            offer = await mentorship.propose(session, ada, aminata, NOW, NOW, 5.0, [])
            assert offer is not None
            assert await mentorship.accept(session, offer, NOW) is not None
    finally:
        await db.dispose()


def test_mentors_lists_each_with_load_and_status(home: dict[str, str]) -> None:
    empty = onramp("mentors", env=home)
    assert empty.returncode == 0 and "No mentors yet." in empty.stdout
    asyncio.run(_two_mentors(home["ONRAMP_DATABASE__URL"]))
    listed = onramp("mentors", env=home)
    assert listed.returncode == 0, listed.stderr
    assert "2 mentor(s)" in listed.stdout
    aminata = next(line for line in listed.stdout.splitlines() if "Aminata" in line)
    assert "fr, wo" in aminata and "18:00–21:00" in aminata and "1/1" in aminata
    assert "full" in aminata
    luis = next(line for line in listed.stdout.splitlines() if "Luis" in line)
    assert "0/2" in luis and "paused" in luis and "Luis [b]" in luis
    rows = json.loads(onramp("mentors", "--json", env=home).stdout)
    assert [(r["name"], r["load"], r["status"]) for r in rows] == [
        ("Aminata", 1, "full"),
        ("Luis [b]", 0, "paused"),
    ]


def test_role_gives_and_takes_a_role(home: dict[str, str]) -> None:
    onramp("run", "--as", "Zuri", stdin="", env=home)
    given = onramp("role", "console:Zuri", "manager", env=home)
    assert given.returncode == 0, given.stderr
    assert "console:Zuri: manager" in given.stdout
    again = onramp("role", "console:Zuri", "Manager", env=home)  # once, whatever the case
    assert "console:Zuri: manager" in again.stdout
    taken = onramp("role", "console:Zuri", "manager", "--remove", env=home)
    assert "console:Zuri: no roles" in taken.stdout
    assert onramp("role", "console:Nobody", "manager", env=home).returncode == 1
    assert onramp("role", "console:Zuri", "man ager", env=home).returncode == 2
    exported = json.loads(onramp("export", "console:Zuri", env=home).stdout)
    actions = [entry["action"] for entry in exported["audit_log"]]
    assert actions.count("role.added") == 1 and actions.count("role.removed") == 1


def test_ctrl_c_while_onramp_is_still_importing_ends_it_without_a_traceback() -> None:
    """A Ctrl-C in the second `onramp` spends importing (pressed at once after `make run`)
    printed thirty lines of where the import was."""
    interrupted_import = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'bot.cli.app':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from bot.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", interrupted_import],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "")
