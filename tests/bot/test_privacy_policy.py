"""`onramp privacy policy`: the retention in effect, in words and in JSON, from bot.toml and
its environment overrides; and an operator's mistake in `[retention]`, in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli.app import SETTINGS_EXIT, app
from bot.settings import RetentionSettings


def _policy(tmp_path: Path, toml: str = "", *args: str, **env: str) -> Result:
    settings = tmp_path / "bot.toml"
    settings.write_text(toml, encoding="utf-8")
    command = ["--config", str(settings), "privacy", "policy", *args]
    return CliRunner().invoke(app, command, env=env, catch_exceptions=False)


def test_the_policy_says_what_how_long_and_why_one_line_per_kind(tmp_path: Path) -> None:
    result = _policy(tmp_path, "[retention]\nanswers_days = 60\n")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 11 and all(line.startswith("- ") for line in lines)
    assert all("kept " in line and "; why: " in line for line in lines)
    assert (
        "- What a member answered in a flow (onboarding, surveys, check-ins), and what the "
        "flow's run held while it waited for them: kept 60 days after the flow run finished;"
    ) in result.output
    assert (
        "Messages the bot gave up sending, with their text and the platform's error: kept 30 "
        "days after they were queued;"
    ) in result.output
    assert "kept 730 days after the action" in result.output  # the audit log's default


def test_environment_overrides_and_keep_are_in_effect(tmp_path: Path) -> None:
    result = _policy(
        tmp_path,
        "[retention]\naudit_log_days = 100\n",
        "--format",
        "json",
        ONRAMP_RETENTION__AUDIT_LOG_DAYS="keep",
        ONRAMP_RETENTION__FAILED_MESSAGES_DAYS="7",
    )
    assert result.exit_code == 0, result.output
    kinds = {one["kind"]: one for one in json.loads(result.output)}
    assert list(kinds) == [
        "answers",
        "finished_runs",
        "sent_messages",
        "cancelled_messages",
        "failed_messages",
        "processed_events",
        "failed_events",
        "activity",
        "audit_log",
        "dashboard_access",
        "member",
    ]
    audit = kinds["audit_log"]
    assert (audit["setting"], audit["days"]) == ("audit_log_days", None)
    assert audit["how_long"] == 'until the member is erased (audit_log_days = "keep")'
    assert kinds["failed_messages"]["days"] == 7
    assert kinds["sent_messages"]["days"] == 90  # sent_messages_days, as before
    assert all(one["what"] and one["why"] for one in kinds.values())


def test_answers_are_said_to_go_with_their_run_when_that_comes_first(tmp_path: Path) -> None:
    toml = "[retention]\nanswers_days = 500\nfinished_runs_days = 100\n"
    kinds = {one["kind"]: one for one in json.loads(_policy(tmp_path, toml, "-f", "json").output)}
    assert kinds["answers"]["days"] == 100


@pytest.mark.parametrize(
    ("toml", "env", "problem"),
    [
        (
            "[retention]\nanswers_days = 0\n",
            {},
            '[retention] answers_days: expected a number of days (1 or more) or "keep", got 0',
        ),
        (
            '[retention]\naudit_log_days = "forever"\n',
            {},
            '[retention] audit_log_days: expected a number of days (1 or more) or "keep", '
            'got "forever"',
        ),
        (
            "[retention]\nactivity_days = 7\n",
            {},
            '[retention] activity_days: expected a number of days (35 or more) or "keep", got 7',
        ),
        (
            "[retention]\nanswer_days = 30\n",
            {},
            "[retention] answer_days: unknown setting; did you mean answers_days?",
        ),
        (
            "",
            {"ONRAMP_RETENTION__SENT_MESSAGES_DAYS": "-3"},
            "ONRAMP_RETENTION__SENT_MESSAGES_DAYS: expected a number of days (1 or more) or "
            '"keep", got "-3"',
        ),
    ],
)
def test_a_mistake_in_retention_is_one_line(
    tmp_path: Path, toml: str, env: dict[str, str], problem: str
) -> None:
    result = _policy(tmp_path, toml, **env)
    assert result.exit_code == SETTINGS_EXIT
    shown = problem if problem.startswith("ONRAMP_") else f"{tmp_path / 'bot.toml'}: {problem}"
    assert result.output.strip().splitlines() == [f"Settings problem: {shown}"]


def test_the_existing_keys_keep_their_meaning() -> None:
    kept = RetentionSettings(processed_events_days=3, sent_messages_days=4, failed_events_days=5)
    assert (kept.processed_events_days, kept.sent_messages_days, kept.failed_events_days) == (
        3,
        4,
        5,
    )
