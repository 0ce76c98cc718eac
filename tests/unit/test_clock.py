"""The process clock: real time, unless the local stage names a clock file; re-read when the
file changes; ignored on every other stage."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib import config
from chalicelib.wiring import clock


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv(clock.CLOCK_FILE_ENV, raising=False)
    monkeypatch.setenv("DIRIGENT_STAGE", "local")
    config.settings.cache_clear()
    yield monkeypatch
    config.settings.cache_clear()


def set_clock(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def test_without_a_clock_file_it_is_real_time(env):
    before = datetime.now(UTC)
    assert before <= clock.now() <= datetime.now(UTC)
    assert clock.now().tzinfo is not None


def test_the_local_stage_stands_at_the_file_and_follows_its_changes(env, tmp_path):
    path = tmp_path / "clock"
    set_clock(path, "2030-03-04T07:00:00Z\n")
    env.setenv(clock.CLOCK_FILE_ENV, str(path))
    assert clock.now() == datetime(2030, 3, 4, 7, tzinfo=UTC)
    assert clock.now() == clock.now()  # fixed: it does not run on

    set_clock(path, "2030-03-13T08:00:00+02:00")
    assert clock.now() == datetime(2030, 3, 13, 6, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)
    set_clock(path, "2030-03-14T09:30:00")  # no offset: UTC
    assert clock.now() == datetime(2030, 3, 14, 9, 30, tzinfo=UTC)


def test_a_bad_instant_names_the_variable_and_the_file(env, tmp_path):
    path = tmp_path / "clock"
    set_clock(path, "next tuesday")
    env.setenv(clock.CLOCK_FILE_ENV, str(path))
    with pytest.raises(ValueError, match=f"{clock.CLOCK_FILE_ENV} .*clock.*next tuesday"):
        clock.now()


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_off_the_local_stage_the_clock_file_is_ignored(env, tmp_path, stage):
    path = tmp_path / "clock"
    set_clock(path, "2030-03-04T07:00:00Z")
    env.setenv(clock.CLOCK_FILE_ENV, str(path))
    env.setenv("DIRIGENT_STAGE", stage)
    config.settings.cache_clear()
    before = datetime.now(UTC)
    assert before <= clock.now() <= datetime.now(UTC)
