"""When the local stack fires a schedule: rate() intervals and AWS's six-field cron()."""

from __future__ import annotations

from datetime import UTC, datetime

from local.scheduler import Schedule


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _next(expression: str, now: str) -> str | None:
    due = Schedule("s", expression, handler=None).next_after(_at(now))
    return None if due is None else datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%d %H:%M")


def test_rate_fires_one_interval_later() -> None:
    assert _next("rate(1 minute)", "2026-03-02 10:00:30") == "2026-03-02 10:01"
    assert _next("rate(2 hours)", "2026-03-02 10:00:00") == "2026-03-02 12:00"


def test_cron_fires_at_the_next_matching_minute() -> None:
    assert _next("cron(0/15 * * * ? *)", "2026-03-02 10:07:00") == "2026-03-02 10:15"
    assert _next("cron(30 6 * * ? *)", "2026-03-02 10:07:00") == "2026-03-03 06:30"


def test_cron_weekdays_count_from_sunday_as_on_aws() -> None:
    # 2026-03-07 is a Saturday: MON-FRI at 08:00 means Monday the 9th.
    assert _next("cron(0 8 ? * MON-FRI *)", "2026-03-07 09:00:00") == "2026-03-09 08:00"
    assert _next("cron(0 8 ? * 1 *)", "2026-03-07 09:00:00") == "2026-03-08 08:00"


def test_unsupported_expressions_never_fire_on_their_own() -> None:
    assert _next("cron(0 8 L * ? *)", "2026-03-07 09:00:00") is None
    assert _next("at(2026-03-07T09:00:00)", "2026-03-07 09:00:00") is None
