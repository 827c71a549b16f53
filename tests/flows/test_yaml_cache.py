"""The cache of parsed content files: the same document from the cache as from the parser,
a changed file parsed again, and a cache that cannot be used is only a slower start."""

from __future__ import annotations

import os
import pickle
from datetime import date
from pathlib import Path

import pytest

from flows import yaml_cache
from flows.yamlfile import YamlDocument, load_yaml

SOURCE = """\
# a comment the cache does not need
id: welcome
starts: 2026-03-01
weights: {skills: 0.5, languages: 2}
steps:
  - say: {en: "Hello {{ member.name }}"}
  - ask: {en: "Where are you?"}
    choices: [yes, no]
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(yaml_cache.ENV, str(folder))
    return folder / "yaml"


def _load(path: Path) -> YamlDocument:
    loaded = load_yaml(path, "flows/welcome.yaml")
    assert isinstance(loaded, YamlDocument), loaded
    return loaded


def test_a_cached_file_reads_back_the_same_data_and_lines(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "welcome.yaml"
    path.write_text(SOURCE, encoding="utf-8")
    parsed = _load(path)
    assert len(list(cache.iterdir())) == 1
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    cached = _load(path)
    assert cached.data == parsed.data
    assert cached.lines == parsed.lines
    assert cached.data["starts"] == date(2026, 3, 1)
    assert cached.data["steps"][1]["choices"] == ["yes", "no"]  # YAML 1.2: strings
    assert cached.line_of(("steps", 1, "choices")) == 8
    assert cached.file == "flows/welcome.yaml"


def test_the_cache_is_used_rather_than_the_parser(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "welcome.yaml"
    path.write_text(SOURCE, encoding="utf-8")
    _load(path)
    (entry,) = cache.iterdir()
    entry.write_bytes(pickle.dumps(({"id": "from the cache"}, {(): 1})))
    assert _load(path).data == {"id": "from the cache"}


def test_a_changed_file_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "welcome.yaml"
    path.write_text(SOURCE, encoding="utf-8")
    _load(path)
    path.write_text(SOURCE.replace("welcome", "goodbye"), encoding="utf-8")
    assert _load(path).data["id"] == "goodbye"
    assert len(list(cache.iterdir())) == 2


def test_a_damaged_entry_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "welcome.yaml"
    path.write_text(SOURCE, encoding="utf-8")
    _load(path)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not a pickle")
    assert _load(path).data["id"] == "welcome"


def test_a_broken_file_is_reported_and_not_cached(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "welcome.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    problem = load_yaml(path, "flows/welcome.yaml")
    assert not isinstance(problem, YamlDocument)
    assert problem.line == 2 and "invalid YAML" in problem.message
    assert not cache.exists() or not list(cache.iterdir())


def test_a_folder_others_can_write_to_is_not_trusted(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "welcome.yaml"
    path.write_text(SOURCE, encoding="utf-8")
    _load(path)
    (entry,) = cache.iterdir()
    entry.write_bytes(pickle.dumps(({"id": "planted"}, {(): 1})))
    os.chmod(cache, 0o777)
    assert _load(path).data["id"] == "welcome"


def test_an_unwritable_or_disabled_cache_only_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "welcome.yaml"
    path.write_text(SOURCE, encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv(yaml_cache.ENV, str(blocker))
    assert _load(path).data["id"] == "welcome"
    monkeypatch.setenv(yaml_cache.ENV, "")
    assert yaml_cache.cache_dir() is None
    assert _load(path).data["id"] == "welcome"


def test_the_cache_keeps_a_bounded_number_of_entries(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yaml_cache, "KEEP", 4)
    for number in range(6):
        path = tmp_path / f"flow{number}.yaml"
        path.write_text(f"id: flow{number}\n", encoding="utf-8")
        _load(path)
    assert 2 <= len(list(cache.iterdir())) <= 4
