"""The retention policy in words: what Onramp keeps, how long and why, from the settings in
effect (`[retention]` in bot.toml and its ONRAMP_RETENTION__* overrides). `onramp privacy
policy` prints it; docs/operators/privacy.md says the same per table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.settings import KEEP, RetentionSettings

UNTIL_ERASED = "until the member is erased"


@dataclass(frozen=True)
class Kept:
    kind: str  # a name for scripts: the counter's `kind` label where it is pruned
    what: str
    setting: str | None  # its key under [retention], if one sets how long
    days: int | None  # None: no limit (kept until the member is erased)
    counted_from: str
    why: str
    lifetime: str | None = None  # how long, when no setting says it

    def how_long(self) -> str:
        if self.lifetime is not None:
            return self.lifetime
        if self.setting is not None and self.days is None:
            return f'{UNTIL_ERASED} ({self.setting} = "{KEEP}")'
        if self.days is None:
            return UNTIL_ERASED
        return f"{self.days} days after {self.counted_from}"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "how_long": self.how_long()}


def policy(retention: RetentionSettings) -> list[Kept]:
    """Every kind of data, in the order a member would ask about it."""
    r = retention
    answers = r.answers_days
    if answers is not None and r.finished_runs_days is not None:
        answers = min(answers, r.finished_runs_days)  # they go with their run at the latest
    return [
        Kept(
            "answers",
            "What a member answered in a flow (onboarding, surveys, check-ins), and what the "
            "flow's run held while it waited for them",
            "answers_days",
            answers,
            "the flow run finished",
            "to continue a flow where the member left it, and for the survey results of the "
            "Campaigns page; what the flow saved to the member's profile stays with the member",
        ),
        Kept(
            "finished_runs",
            "Finished flow runs (completed, cancelled, expired): which flow, which step, when",
            "finished_runs_days",
            r.finished_runs_days,
            "the run finished",
            "for the onboarding metrics (drop-off, where members stop); each member's last "
            "completed run of each flow stays until they are erased, as the record that they "
            "finished it (onboarding is not offered again, campaign segments, badges)",
        ),
        Kept(
            "sent_messages",
            "Messages the bot delivered, with their text",
            "sent_messages_days",
            r.sent_messages_days,
            "they were sent",
            "so a message is never sent twice, and for delivery reports (WhatsApp read and "
            "delivered receipts, campaign outcomes)",
        ),
        Kept(
            "cancelled_messages",
            "Messages cancelled before they were sent, with their text",
            "cancelled_messages_days",
            r.cancelled_messages_days,
            "they were queued",
            "so an operator can see why a message did not go out",
        ),
        Kept(
            "failed_messages",
            "Messages the bot gave up sending, with their text and the platform's error",
            "failed_messages_days",
            r.failed_messages_days,
            "they were queued",
            "so an operator can find out why they failed; messages still to send are never deleted",
        ),
        Kept(
            "processed_events",
            "The platform's ids of the events the bot handled (no text)",
            "processed_events_days",
            r.processed_events_days,
            "they arrived",
            "to recognise an event a platform delivers twice and handle it once",
        ),
        Kept(
            "failed_events",
            "Events whose handling kept failing, with the event itself (what the member sent)",
            "failed_events_days",
            r.failed_events_days,
            "they failed",
            "so an operator can run them again once the fault is fixed (onramp events retry)",
        ),
        Kept(
            "activity",
            "The days each member did something, and on which platform; the health metrics' "
            "daily summaries of who was active",
            "activity_days",
            r.activity_days,
            "the day",
            "for the health metrics (active members, retention cohorts, inactive "
            "contributors); older periods show no activity once it is gone",
        ),
        Kept(
            "audit_log",
            "Who did what: managers' and operators' actions, erasures, role changes (never "
            "the data itself)",
            "audit_log_days",
            r.audit_log_days,
            "the action",
            "to answer for what was done to a member's data, and by whom",
        ),
        Kept(
            "dashboard_access",
            "Dashboard sign-in links and sessions of managers (never the token itself)",
            None,
            None,
            "",
            "to sign managers in",
            "until they expire ([dashboard] link_minutes, session_hours)",
        ),
        Kept(
            "member",
            "The member: name, platform ids, language, time zone, profile, consents, roles, "
            "mentorships and check-ins, kudos and badges, campaigns sent to them, work "
            "scheduled for them",
            None,
            None,
            "",
            "to run the community's onboarding, mentoring and recognition with them; kudos "
            "are not deleted by retention because the leaderboards' totals count them",
        ),
    ]


def as_lines(kept: list[Kept]) -> list[str]:
    """One line per kind of data: what, how long, why."""
    return [f"{one.what}: kept {one.how_long()}; why: {one.why}." for one in kept]
