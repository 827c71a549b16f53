"""One reader for the numbers members type: ASCII digits for commands, any script's digits
for answers, bounded, and a typed refusal instead of an exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.answers import match_choice, parse_input
from flows.numbers import MAX_WHOLE, NotANumber, answered_number, whole_number
from flows.schema import AskStep, Choice


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("007", 7),
        ("", NotANumber("empty")),
        ("²", NotANumber("other_digits")),
        ("٣", NotANumber("other_digits")),
        ("３", NotANumber("other_digits")),
        ("①", NotANumber("other_digits")),
        ("½", NotANumber("not_digits")),
        ("one", NotANumber("not_digits")),
        ("-3", NotANumber("not_digits")),
        ("1e3", NotANumber("not_digits")),
        ("1 2", NotANumber("not_digits")),
        (str(MAX_WHOLE + 1), NotANumber("out_of_range")),
        ("9" * 5000, NotANumber("out_of_range")),
    ],
)
def test_a_command_takes_ascii_digits_only(typed: str, expected: int | NotANumber) -> None:
    assert whole_number(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("²", 2), ("٣", 3), ("३", 3), ("３", 3), ("๓", 3), ("١٢", 12), ("1٢", 12), ("x", None)],
)
def test_an_answer_may_be_written_in_any_scripts_digits(typed: str, expected: int | None) -> None:
    found = whole_number(typed, strict=False)
    assert found == expected if expected is not None else isinstance(found, NotANumber)


def test_bounds_are_inclusive() -> None:
    assert whole_number("1", low=1, high=5) == 1
    assert whole_number("5", low=1, high=5) == 5
    assert whole_number("0", low=1, high=5) == NotANumber("out_of_range")
    assert whole_number("6", low=1, high=5) == NotANumber("out_of_range")


@pytest.mark.parametrize(
    ("typed", "locale", "expected"),
    [
        ("42", "en", 42),
        ("1,234.5", "en", 1234.5),
        ("1 234,5", "fr", 1234.5),
        ("2,5", "es", 2.5),
        ("٣", "en", 3),
        ("-4", "en", -4),
        ("1e999999999", "en", NotANumber("not_digits")),  # once: minutes making an int
        ("NaN", "en", NotANumber("not_digits")),
        ("Infinity", "en", NotANumber("not_digits")),
        ("10000000000000000", "en", NotANumber("out_of_range")),
        ("lots", "en", NotANumber("not_digits")),
    ],
)
def test_an_answer_to_a_number_question(
    typed: str, locale: str, expected: int | float | NotANumber
) -> None:
    assert answered_number(typed, locale) == expected


def test_a_number_step_refuses_an_exponent_without_working_it_out() -> None:
    step = AskStep.model_validate({"id": "age", "ask": {"en": "How many?"}, "input": "number"})
    assert parse_input(step, "1e999999999", "en").reason == "invalid_number"  # type: ignore[union-attr]
    assert parse_input(step, "١٢", "en") == 12


def _choices(count: int) -> list[Choice]:
    return [
        Choice.model_validate({"id": f"c{n}", "label": {"en": f"Option {n}"}}) for n in range(count)
    ]


def test_a_choice_by_number_in_any_digits() -> None:
    choices = _choices(3)
    assert match_choice("٢", choices) == choices[1]
    assert match_choice("2.", choices) == choices[1]
    assert match_choice("4", choices) is None
    assert match_choice("9" * 100, choices) is None
    assert match_choice("option 2", choices) == choices[2]  # by its label
    assert match_choice("c0", choices) == choices[0]  # by its id


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_a_number_or_a_refusal_never_an_error(text: str) -> None:
    for strict in (True, False):
        found = whole_number(text, low=1, high=1000, strict=strict)
        assert isinstance(found, NotANumber) or 1 <= found <= 1000
        if strict and isinstance(found, int):
            assert text.strip().isascii()
    for locale in ("en", "fr", "es"):
        answered = answered_number(text, locale)
        assert isinstance(answered, NotANumber | int | float)
    assert match_choice(text, _choices(4)) in (None, *_choices(4))
