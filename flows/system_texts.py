"""The texts the core itself says, each of which `content/system.yaml` must translate."""

from __future__ import annotations

SYSTEM_TEXT_KEYS: dict[str, str] = {
    "choose_one": "shown under numbered options: how to answer",
    "choose_many": "shown under numbered options that allow several answers",
    "submit_choices": "the button that sends the options ticked in a multiple choice "
    "(Slack, Telegram)",
    "open_choices": "the button that opens a list of choices (WhatsApp; at most 20 characters)",
    "invalid_choice": "the reply matched no option ({{ count }} = number of options)",
    "invalid_choices": "one of several replies matched no option",
    "empty_answer": "an empty reply to a question",
    "answer_too_long": "a reply over the step's max_length ({{ count }} = the limit)",
    "invalid_email": "a reply that is not an email address",
    "invalid_url": "a reply that is not a web address",
    "invalid_number": "a reply that is not a number",
    "invalid_timezone": "a reply that is not a time zone",
    "invalid_language": "a reply that is not a language",
    "invalid_format": "a reply that does not match the step's pattern",
    "reminder": "put before a question asked again after its timeout",
    "welcome_back": "said when a member returns to an unfinished flow",
    "nothing_pending": "a message that no flow is waiting for and no keyword matches",
    "help": "the answer to /help, before the list of commands",
    "command_start": "/help line for start",
    "command_restart": "/help line for restart",
    "command_help": "/help line for help",
    "command_language": "/help line for language",
    "command_stop": "/help line for stop",
    "unknown_command": "a command nobody knows",
    "language_set": "after /language changed the member's language",
    "language_unknown": "after /language with a language the community does not offer",
    "stopped": "after /stop: the member will get nothing more until /start",
    "run_expired": "said when a member comes back after their unfinished flow expired",
    "unsupported_message": "the answer to what the bot cannot read (a photo, a voice note, "
    "a sticker…)",
    "group_welcome": "said in a group to a member the bot may not write to privately yet "
    "(Telegram), above a button that opens a private chat",
    "group_welcome_button": "the label of that button (at most 64 characters)",
}

# Commands the core answers itself; a flow may not take these as its trigger.
RESERVED_COMMANDS = frozenset({"start", "restart", "help", "language", "stop"})
