"""Business-hours calendars: which instants are open, and business-time arithmetic over them (pure).

A calendar is written in local wall-clock time (IANA zone, intervals per weekday, holidays, date overrides);
every query takes timezone-aware datetimes and answers in UTC. Each local date is turned into UTC windows once
(cached per instance) and queries walk day by day, never minute by minute, so the SLA engine can afford it.

DST, one rule for window starts and ends alike: a wall-clock boundary maps to the *first instant at which the
local clock reads that time or later*.

- Spring-forward gap: a boundary that does not exist maps to the first real instant after the gap
  (Europe/Madrid 2026-03-29 02:30 -> 03:00 local = 01:00 UTC). A window wholly inside the gap is empty.
- Fall-back overlap: a boundary in the repeated hour maps to its first occurrence (fold=0). A window spanning
  the repeated hour holds it twice: 00:00-04:00 on Europe/Madrid 2026-10-25 is 5 real hours. A window ending
  inside it closes at the end time's first occurrence and stays closed during the second pass
  (01:00-02:30 that day is 1.5 real hours).

Equivalently, an instant is open iff the highest wall-clock reading reached so far lies in an interval.

Holidays and overrides apply to the local date on which an interval *starts*: an overnight interval starting
the evening before a holiday runs into it; one starting on a holiday does not run at all. An override beats a
holiday (it is the more specific statement). Windows of adjacent dates that overlap (an overnight span running
into the next morning's hours) are united, not double counted.

Instants keep their sub-second part; counts of business seconds are truncated to whole seconds.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from deskbase.support.calendar_form import (
    DAY_NAMES,
    CalendarError,
    Interval,
    check_country,
    check_dates,
    check_intervals,
    dump_intervals,
    load_zone,
    parse_fields,
    utc,
)

__all__ = [
    "DAY_NAMES",
    "MAX_CLOSED_DAYS",
    "Calendar",
    "CalendarError",
    "Interval",
    "Window",
    "calendar_24x7",
]

# A calendar with no open time for over three years is treated as never open rather than searched forever.
MAX_CLOSED_DAYS = 1100

Window = tuple[datetime, datetime]

_ONE_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_ZERO = timedelta(0)
_FULL_DAY: tuple[Interval, ...] = ((time(0), time(0)),)
_CACHE_LIMIT = 50_000  # dates per calendar; a runaway caller clears the cache rather than grows it forever


@dataclass(frozen=True)
class Calendar:
    """Business hours in one IANA zone. Dict fields are normalised copies; treat them as read-only.

    ``weekly`` maps 0=Monday..6=Sunday to intervals (every day present after construction). An interval whose
    end <= start runs overnight into the next local date; ``time(0)`` as an end means midnight (24:00), so
    ``(time(0), time(0))`` is a whole day.
    """

    timezone: str
    weekly: dict[int, tuple[Interval, ...]] = field(hash=False)
    holidays: dict[date, str] = field(default_factory=dict, hash=False)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    overrides: dict[date, tuple[Interval, ...]] = field(default_factory=dict, hash=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)
    _days: dict[date, tuple[Window, ...]] = field(init=False, repr=False, compare=False, default_factory=dict)
    _country_days: dict[int, frozenset[date]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        zone = load_zone(self.timezone)
        if not isinstance(self.weekly, Mapping):
            raise CalendarError("/weekly", "expected a mapping of weekday (0=Monday..6=Sunday) to intervals")
        for weekday in self.weekly:
            if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
                raise CalendarError("/weekly", f"weekday keys are 0 (Monday)..6 (Sunday), got {weekday!r}")
        weekly = {d: check_intervals(self.weekly.get(d, ()), f"/weekly/{DAY_NAMES[d]}") for d in range(7)}
        check_dates(self.holidays, "/holidays")
        for i, (day, name) in enumerate(self.holidays.items()):
            if not isinstance(name, str) or not name.strip():
                raise CalendarError(f"/holidays/{i}/name", f"holiday {day} needs a non-empty name")
        check_dates(self.overrides, "/overrides")
        overrides = {
            day: check_intervals(ivs, f"/overrides/{i}/intervals")
            for i, (day, ivs) in enumerate(self.overrides.items())
        }
        check_country(self.holiday_country, self.holiday_subdivision)
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "holidays", dict(self.holidays))
        object.__setattr__(self, "overrides", overrides)
        object.__setattr__(self, "_zone", zone)
        always = all(ivs == _FULL_DAY for ivs in weekly.values())
        always = always and not overrides and not self.holidays and self.holiday_country is None
        object.__setattr__(self, "_always_open", always)

    # --- JSON form ---

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Parse and validate the HTTP API's JSON form; every problem is a CalendarError naming its field."""
        return cls(**parse_fields(d))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``from_dict(c.to_dict()) == c``. All seven weekdays are written, ends as 24:00."""
        return {
            "timezone": self.timezone,
            "weekly": {DAY_NAMES[d]: dump_intervals(self.weekly[d]) for d in range(7)},
            "holidays": [{"date": d.isoformat(), "name": n} for d, n in sorted(self.holidays.items())],
            "holiday_country": self.holiday_country,
            "holiday_subdivision": self.holiday_subdivision,
            "overrides": [
                {"date": d.isoformat(), "intervals": dump_intervals(ivs)}
                for d, ivs in sorted(self.overrides.items())
            ],
        }

    # --- queries ---

    def windows(self, start: datetime, end: datetime) -> Iterator[Window]:
        """Open windows intersected with [start, end), in order, adjacent ones merged (UTC)."""
        return self._merged(utc(start, "start"), utc(end, "end"))

    def is_open(self, at: datetime) -> bool:
        at = utc(at, "at")
        first = next(self._stream(at, at), None)
        return first is not None and first[0] == at

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, else the start of the next window; CalendarError if there is none."""
        return next(self._stream(utc(at, "at"), None))[0]

    def add_business(self, start: datetime, seconds: int) -> datetime:
        """The instant at which ``seconds`` business seconds have elapsed since ``start`` (0 -> ``start``).

        A deadline that uses up a window exactly is that window's end, not the next window's start.
        """
        start = utc(start, "start")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise CalendarError("seconds", f"must be a non-negative integer, got {seconds!r}")
        left = timedelta(seconds=seconds)
        if not left or self._always_open:
            return start + left
        stream = self._stream(start, None)
        while True:
            s, e = next(stream)
            if left <= e - s:
                return s + left
            left -= e - s

    def business_between(self, a: datetime, b: datetime) -> int:
        """Whole business seconds in [a, b); 0 when b <= a."""
        a, b = utc(a, "a"), utc(b, "b")
        if b <= a:
            return 0
        if self._always_open:
            return (b - a) // _SECOND
        total = _ZERO
        for s, e in self._stream(a, b):
            if s >= b:
                break
            total += min(e, b) - s
        return total // _SECOND

    # --- internals ---

    def _merged(self, start: datetime, end: datetime) -> Iterator[Window]:
        if end <= start:
            return
        pending: Window | None = None
        for s, e in self._stream(start, end):
            if s >= end:
                break
            if pending is not None and pending[1] == s:
                pending = (pending[0], min(e, end))
                continue
            if pending is not None:
                yield pending
            pending = (s, min(e, end))
        if pending is not None:
            yield pending

    def _stream(self, after: datetime, until: datetime | None) -> Iterator[Window]:
        """Disjoint windows in order, clipped to start at ``after``; unbounded but guarded without ``until``.

        Windows of date D start on or after local D 00:00 and end before local D+2 00:00, so starting at
        the date before ``after``'s local date misses nothing; one more date covers a fall-back across
        midnight (a clock going back from 00:30 to 23:30 shows the earlier date after the later one began).
        """
        day = after.astimezone(self._zone).date() - _ONE_DAY
        last = None if until is None else until.astimezone(self._zone).date() + _ONE_DAY
        edge, closed_since = after, day
        while last is None or day <= last:
            windows = self._day(day)
            if windows:
                closed_since = day + _ONE_DAY
            elif last is None and (day - closed_since).days >= MAX_CLOSED_DAYS:
                raise CalendarError(
                    "", f"calendar has no open time in {MAX_CLOSED_DAYS} days from {closed_since}"
                )
            for s, e in windows:
                if e > edge:  # trims the overlap with an overnight window of the previous date
                    yield max(s, edge), e
                    edge = e
            day += _ONE_DAY

    def _day(self, day: date) -> tuple[Window, ...]:
        hit = self._days.get(day)
        if hit is None:
            if len(self._days) >= _CACHE_LIMIT:
                self._days.clear()
            hit = self._days[day] = self._build_day(day)
        return hit

    def _build_day(self, day: date) -> tuple[Window, ...]:
        if day in self.overrides:
            intervals = self.overrides[day]
        elif self._is_holiday(day):
            intervals = ()
        else:
            intervals = self.weekly[day.weekday()]
        out: list[Window] = []
        for s, e in intervals:  # sorted and non-overlapping in wall time, so starts come out in order
            start = self._instant(datetime.combine(day, s))
            end = self._instant(datetime.combine(day + _ONE_DAY if e <= s else day, e))
            if start >= end:
                continue  # swallowed by a spring-forward gap
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(end, out[-1][1]))
            else:
                out.append((start, end))
        return tuple(out)

    def _instant(self, wall: datetime) -> datetime:
        """The first instant at which the local clock reads ``wall`` or later (the module's DST rule)."""
        first = wall.replace(tzinfo=self._zone)
        before = first.utcoffset() or _ZERO
        after = first.replace(fold=1).utcoffset() or _ZERO
        if before >= after:  # exists, possibly twice; fold=0 is the earlier occurrence
            return first.astimezone(UTC)
        # In a gap: the transition lies in (wall - after, wall - before]. Bisect it to the second
        # (tz transitions are whole seconds); gaps are rare and the result is cached with the day.
        base = (wall - after).replace(tzinfo=UTC)
        lo, hi = 0, (after - before) // _SECOND
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if (base + timedelta(seconds=mid)).astimezone(self._zone).utcoffset() == after:
                hi = mid
            else:
                lo = mid
        return base + timedelta(seconds=hi)

    def _is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        if self.holiday_country is None:
            return False
        dates = self._country_days.get(day.year)
        if dates is None:
            found = holidays_lib.country_holidays(
                self.holiday_country, subdiv=self.holiday_subdivision, years=day.year
            )
            dates = self._country_days[day.year] = frozenset(found)
        return day in dates


def calendar_24x7(timezone: str = "UTC") -> Calendar:
    """Always open: business time equals elapsed time, for targets measured in calendar time."""
    return Calendar(timezone=timezone, weekly=dict.fromkeys(range(7), _FULL_DAY))
