"""The time-zone index in its SQLite file (flows/timezone_index.py): the same answers as the
index built in memory, built once per machine by a child process, and a cache folder that
cannot be used (off, untrusted, a damaged file) costing only a build."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from flows import cache_folder, timezone_index
from flows.timezone_sources import Index, build, fold
from tests.clock import START

YEAR = START.year  # the tz rules of the test clock's year, not the wall clock's


@pytest.fixture(scope="module")
def built_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index file built by the real child process (`python -m flows.timezone_index`)."""
    path = tmp_path_factory.mktemp("index") / "timezones.sqlite"
    timezone_index._build(path, YEAR)
    assert not list(path.parent.glob("*.partial"))  # written aside, then renamed
    return path


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch, built_file: Path) -> list[Path]:
    """Each build asked of the child, done by copying the suite's file instead (a real build
    is two seconds of CPU)."""
    asked: list[Path] = []

    def copy(path: Path, year: int) -> None:
        assert year == YEAR
        asked.append(path)
        shutil.copyfile(built_file, path)

    monkeypatch.setattr(timezone_index, "_build", copy)
    return asked


def test_the_file_answers_as_the_index_built_in_memory(built_file: Path) -> None:
    in_memory = build(YEAR)
    from_file = timezone_index._open(built_file)
    for field in ("zones", "abbreviations", "countries", "places", "country_zones", "clocks"):
        assert getattr(from_file, field) == getattr(in_memory, field), field
    assert (from_file.people, from_file.speakers, from_file.typos) == (
        in_memory.people,
        in_memory.speakers,
        in_memory.typos,
    )
    assert len(from_file.cities) == len(in_memory.cities) > 200_000
    names = random.Random(7).sample(sorted(in_memory.cities), 3000)
    for name in [*names, *map(fold, ["Mumbai", "Paris", "القاهرة", "São Paulo"])]:
        assert from_file.cities[name] == in_memory.cities[name], name
    assert "no such place" not in from_file.cities
    with pytest.raises(KeyError):
        from_file.cities["no such place"]


def test_a_second_process_opens_the_file_without_building(
    builds: list[Path], built_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache_folder.ENV, str(tmp_path))
    (tmp_path / "timezones").mkdir(mode=0o700)
    shutil.copyfile(built_file, tmp_path / "timezones" / timezone_index.file_name(YEAR))
    index = timezone_index.load(YEAR)
    assert builds == []  # the file was there
    assert isinstance(index, Index)
    assert index.cities["mumbai"][0].zone == "Asia/Kolkata"


def test_a_machine_without_the_file_builds_it_into_the_cache_folder(
    builds: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache_folder.ENV, str(tmp_path))
    index = timezone_index.load(YEAR)
    expected = tmp_path / "timezones" / timezone_index.file_name(YEAR)
    assert builds == [expected]
    assert expected.exists()
    assert index.cities["nairobi"][0].zone == "Africa/Nairobi"
    timezone_index.load(YEAR)
    assert builds == [expected]  # the next process finds it


def test_a_new_build_removes_the_files_of_other_years_and_versions(
    builds: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache_folder.ENV, str(tmp_path))
    folder = tmp_path / "timezones"
    folder.mkdir(mode=0o700)
    older = folder / timezone_index.file_name(YEAR - 1)
    older.write_bytes(b"last year's index")
    unrelated = folder / "notes.txt"
    unrelated.write_text("not ours to remove")
    timezone_index.load(YEAR)
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [timezone_index.file_name(YEAR), "notes.txt"]
    )


def test_a_damaged_file_is_built_again(
    builds: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache_folder.ENV, str(tmp_path))
    damaged = tmp_path / "timezones" / timezone_index.file_name(YEAR)
    damaged.parent.mkdir(mode=0o700)
    damaged.write_bytes(b"not a database at all" * 100)
    index = timezone_index.load(YEAR)
    assert builds == [damaged]
    assert index.cities["lisboa"][0].zone == "Europe/Lisbon"
    with sqlite3.connect(damaged) as db:  # what is there now is the index
        assert db.execute("SELECT count(*) FROM city").fetchone()[0] > 20_000


@pytest.mark.parametrize("why", ["caching is off", "the folder is not ours alone"])
def test_without_a_usable_cache_folder_it_is_built_aside_and_read_into_memory(
    why: str, builds: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if why == "caching is off":
        monkeypatch.setenv(cache_folder.ENV, "")
    else:
        monkeypatch.setenv(cache_folder.ENV, str(tmp_path))
        (tmp_path / "timezones").mkdir(mode=0o777)
        (tmp_path / "timezones").chmod(0o777)  # others may write: its files are not trusted
    index = timezone_index.load(YEAR)
    [aside] = builds
    assert not aside.exists()  # read into memory, then removed
    assert not aside.parent.exists()
    if why == "the folder is not ours alone":
        assert list((tmp_path / "timezones").iterdir()) == []  # nothing written into it
    assert index.cities["bogota"][0].zone == "America/Bogota"
    assert index.zones["europe paris"] == "Europe/Paris"


def test_the_file_name_changes_with_the_year_and_the_data() -> None:
    assert timezone_index.file_name(2026) != timezone_index.file_name(2027)
    assert timezone_index.file_name(2026) == timezone_index.file_name(2026)
