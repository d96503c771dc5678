"""Times people type (`at=20:00`, `armed 19:00-23:00`), read in the typist's own zone and shown back in it and
in UTC, so that an operator in Berlin and an approver in Singapore read the same instant the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.providers.fields import hidden_character
from bot.services.errors import BadInput

HORIZON = timedelta(days=30)
"""How far ahead a time may be set: further is more likely a typo than a plan."""

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_DATED = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{1,2}:\d{2})")


def zone(name: str | None) -> ZoneInfo:
    """A zone by its IANA name; Slack gives one per user. An unknown or missing name is UTC."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _clock(text: str, what: str) -> time:
    m = _CLOCK.fullmatch(text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise BadInput(f"{what} takes a time like 20:00 or 2026-12-24T20:00, got {text!r}")
    return time(int(m.group(1)), int(m.group(2)))


def at(text: str, tz: str | None, now: datetime) -> datetime:
    """`20:00` is the next 20:00 in `tz` (today, or tomorrow once it has passed); `2026-12-24T20:00` is that day;
    either may end in an offset (`+01:00`, `Z`) to leave the zone out of it. Returned in UTC."""
    local = zone(tz)
    text = text.strip()
    try:
        explicit = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        explicit = None
    if explicit is not None and explicit.tzinfo is not None:
        moment = explicit.astimezone(UTC)
    elif (m := _DATED.fullmatch(text)) is not None:
        try:
            day = date.fromisoformat(m.group(1))
        except ValueError:
            raise BadInput(f"at= takes a date like 2026-12-24, got {m.group(1)!r}") from None
        moment = datetime.combine(day, _clock(m.group(2), "at="), tzinfo=local).astimezone(UTC)
    else:
        clock = _clock(text, "at=")
        today = now.astimezone(local).date()
        moment = datetime.combine(today, clock, tzinfo=local).astimezone(UTC)
        if moment <= now:
            moment = datetime.combine(today + timedelta(days=1), clock, tzinfo=local).astimezone(UTC)
    if moment <= now:
        raise BadInput(f"{show(moment, tz)} has passed; give a time still to come")
    if moment - now > HORIZON:
        raise BadInput(f"{show(moment, tz)} is more than {HORIZON.days} days away")
    return moment


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def window(text: str, tz: str | None, now: datetime) -> Window:
    """`19:00-23:00` (or with a date in front: `2026-12-24 19:00-23:00`): the next such window that has not ended,
    in `tz`; an end before the start runs past midnight."""
    local = zone(tz)
    m = re.fullmatch(r"(?:(\d{4}-\d{2}-\d{2})[ T])?(\d{1,2}:\d{2})\s*[-–—]\s*(\d{1,2}:\d{2})", text.strip())
    if not m:
        raise BadInput(f"give the arming window like 19:00-23:00 (or 2026-12-24 19:00-23:00), got {text!r}")
    start_clock, end_clock = _clock(m.group(2), "the window"), _clock(m.group(3), "the window")
    if start_clock == end_clock:
        raise BadInput("the window starts and ends at the same time")
    if m.group(1):
        try:
            days = [date.fromisoformat(m.group(1))]
        except ValueError:
            raise BadInput(f"the window's date {m.group(1)!r} is not a date") from None
    else:
        today = now.astimezone(local).date()
        days = [today - timedelta(days=1), today, today + timedelta(days=1)]
    for day in days:
        start = datetime.combine(day, start_clock, tzinfo=local).astimezone(UTC)
        end_day = day + timedelta(days=1) if end_clock < start_clock else day
        end = datetime.combine(end_day, end_clock, tzinfo=local).astimezone(UTC)
        if end > now:
            if start - now > HORIZON:
                raise BadInput(f"the window starts more than {HORIZON.days} days from now")
            return Window(start, end)
    raise BadInput(f"the window {text} has ended; give one still to come")


def show(moment: datetime, tz: str | None) -> str:
    """`Tue 1 Dec 20:00 CET (19:00 UTC)`; only the UTC form when the zone is UTC."""
    utc = moment.astimezone(UTC)
    local = moment.astimezone(zone(tz))
    day = f"{local:%a} {local.day} {local:%b}"
    if local.utcoffset() == timedelta(0) and (tz or "UTC") in ("UTC", "Etc/UTC"):
        return f"{day} {utc:%H:%M} UTC"
    return f"{day} {local:%H:%M} {local.tzname()} ({utc:%H:%M} UTC)"


def show_window(win: Window, tz: str | None) -> str:
    """`19:00–23:00 CET (18:00–22:00 UTC), Tue 1 Dec`."""
    local_zone = zone(tz)
    s, e = win.start.astimezone(local_zone), win.end.astimezone(local_zone)
    su, eu = win.start.astimezone(UTC), win.end.astimezone(UTC)
    day = f"{s:%a} {s.day} {s:%b}"
    if s.utcoffset() == timedelta(0) and (tz or "UTC") in ("UTC", "Etc/UTC"):
        return f"{su:%H:%M}–{eu:%H:%M} UTC, {day}"
    return f"{s:%H:%M}–{e:%H:%M} {s.tzname()} ({su:%H:%M}–{eu:%H:%M} UTC), {day}"


@dataclass(frozen=True)
class Timing:
    """When a change is to happen, beyond "once approved": at a time (`at=`, shown in `tz`), or at once without
    a second person (`now reason=…`, break-glass)."""

    at: datetime | None = None
    tz: str | None = None
    break_glass: str | None = None

    def __post_init__(self) -> None:
        if self.at is not None and self.break_glass is not None:
            raise BadInput("a change is either at= a time or now (break-glass), not both")
        if self.break_glass is not None:
            reason = self.break_glass.strip()
            if not reason:
                raise BadInput('break-glass needs a reason: now reason="approver unreachable"')
            if len(reason) > 300:
                raise BadInput(f"the break-glass reason is {len(reason)} characters; keep it to 300")
            hidden = hidden_character(reason)
            if hidden is not None:
                raise BadInput(f"the break-glass reason must not contain {hidden}")
