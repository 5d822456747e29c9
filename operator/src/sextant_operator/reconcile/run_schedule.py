"""Cron ticks of a TrainingJob's schedule: the latest tick that is due and the next one to wake up for."""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import croniter  # type: ignore[import-untyped]


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp as Kubernetes writes it (…Z) to an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cron_error(expression: str) -> str | None:
    """Why a cron expression is unusable, or None when croniter accepts it."""
    if not croniter.is_valid(expression):
        return (f"{expression!r} is not a cron expression: use five fields (minute hour day-of-month month "
                "day-of-week), e.g. \"0 3 * * 1\", or @hourly, @daily, @weekly, @monthly")
    return None


def due_tick(expression: str, since: str, now: str) -> datetime | None:
    """The latest tick after `since` and at or before `now` (missed older ticks collapse into it), if any."""
    now_at, since_at = parse_time(now), parse_time(since)
    latest: datetime = croniter(expression, now_at).get_prev(datetime)
    if croniter.match(expression, now_at.replace(second=0, microsecond=0)):
        latest = now_at.replace(second=0, microsecond=0)
    return latest if latest > since_at else None


def next_tick(expression: str, now: str) -> datetime:
    """The first tick after now."""
    following: datetime = croniter(expression, parse_time(now)).get_next(datetime)
    return following.astimezone(UTC)
