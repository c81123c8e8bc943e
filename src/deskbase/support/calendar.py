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

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no open time for over three years is treated as never open rather than searched forever.
MAX_CLOSED_DAYS = 1100

Interval = tuple[time, time]
Window = tuple[datetime, datetime]

_KEYS = {"timezone", "weekly", "holidays", "holiday_country", "holiday_subdivision", "overrides"}
_TIME_RE = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ONE_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_ZERO = timedelta(0)
_FULL_DAY: tuple[Interval, ...] = ((time(0), time(0)),)
_CACHE_LIMIT = 50_000  # dates per calendar; a runaway caller clears the cache rather than grows it forever


class CalendarError(ValueError):
    """Rejected calendar definition or argument; ``field`` is a JSON pointer (or argument name) for a 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


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
        zone = _load_zone(self.timezone)
        if not isinstance(self.weekly, Mapping):
            raise CalendarError("/weekly", "expected a mapping of weekday (0=Monday..6=Sunday) to intervals")
        for weekday in self.weekly:
            if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
                raise CalendarError("/weekly", f"weekday keys are 0 (Monday)..6 (Sunday), got {weekday!r}")
        weekly = {d: _check_intervals(self.weekly.get(d, ()), f"/weekly/{DAY_NAMES[d]}") for d in range(7)}
        _check_dates(self.holidays, "/holidays")
        for i, (day, name) in enumerate(self.holidays.items()):
            if not isinstance(name, str) or not name.strip():
                raise CalendarError(f"/holidays/{i}/name", f"holiday {day} needs a non-empty name")
        _check_dates(self.overrides, "/overrides")
        overrides = {
            day: _check_intervals(ivs, f"/overrides/{i}/intervals")
            for i, (day, ivs) in enumerate(self.overrides.items())
        }
        _check_country(self.holiday_country, self.holiday_subdivision)
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
        if not isinstance(d, Mapping):
            raise CalendarError("", "a calendar must be a JSON object")
        for key in d:
            if key not in _KEYS:
                raise CalendarError(_pointer(key), "unknown field")
        for key in ("timezone", "weekly"):
            if key not in d:
                raise CalendarError(f"/{key}", "required")
        weekly_raw = d["weekly"]
        if not isinstance(weekly_raw, Mapping):
            raise CalendarError("/weekly", "expected an object keyed by mon..sun")
        weekly: dict[int, tuple[Interval, ...]] = {}
        for name, ivs in weekly_raw.items():
            if name not in DAY_NAMES:
                raise CalendarError(
                    _pointer("weekly", name), f"unknown weekday; use one of {', '.join(DAY_NAMES)}"
                )
            weekly[DAY_NAMES.index(name)] = _parse_intervals(ivs, f"/weekly/{name}")
        holidays: dict[date, str] = {}
        for i, item in enumerate(_list(d.get("holidays", []), "/holidays")):
            day = _parse_date(
                _item(item, f"/holidays/{i}", ("date", "name")), f"/holidays/{i}/date", holidays
            )
            holidays[day] = item["name"]
        overrides: dict[date, tuple[Interval, ...]] = {}
        for i, item in enumerate(_list(d.get("overrides", []), "/overrides")):
            where = f"/overrides/{i}"
            day = _parse_date(_item(item, where, ("date", "intervals")), f"{where}/date", overrides)
            overrides[day] = _parse_intervals(item["intervals"], f"{where}/intervals")
        return cls(
            timezone=d["timezone"],
            weekly=weekly,
            holidays=holidays,
            holiday_country=d.get("holiday_country"),
            holiday_subdivision=d.get("holiday_subdivision"),
            overrides=overrides,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``from_dict(c.to_dict()) == c``. All seven weekdays are written, ends as 24:00."""
        return {
            "timezone": self.timezone,
            "weekly": {DAY_NAMES[d]: _dump_intervals(self.weekly[d]) for d in range(7)},
            "holidays": [{"date": d.isoformat(), "name": n} for d, n in sorted(self.holidays.items())],
            "holiday_country": self.holiday_country,
            "holiday_subdivision": self.holiday_subdivision,
            "overrides": [
                {"date": d.isoformat(), "intervals": _dump_intervals(ivs)}
                for d, ivs in sorted(self.overrides.items())
            ],
        }

    # --- queries ---

    def windows(self, start: datetime, end: datetime) -> Iterator[Window]:
        """Open windows intersected with [start, end), in order, adjacent ones merged (UTC)."""
        return self._merged(_utc(start, "start"), _utc(end, "end"))

    def is_open(self, at: datetime) -> bool:
        at = _utc(at, "at")
        first = next(self._stream(at, at), None)
        return first is not None and first[0] == at

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, else the start of the next window; CalendarError if there is none."""
        return next(self._stream(_utc(at, "at"), None))[0]

    def add_business(self, start: datetime, seconds: int) -> datetime:
        """The instant at which ``seconds`` business seconds have elapsed since ``start`` (0 -> ``start``).

        A deadline that uses up a window exactly is that window's end, not the next window's start.
        """
        start = _utc(start, "start")
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
        a, b = _utc(a, "a"), _utc(b, "b")
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


# --- validation and the JSON form ---


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise CalendarError(name, f"must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _load_zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CalendarError("/timezone", f"expected an IANA time zone name, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CalendarError("/timezone", f"unknown IANA time zone {name!r}") from exc


def _check_country(country: object, subdivision: object) -> None:
    if country is None:
        if subdivision is not None:
            raise CalendarError("/holiday_subdivision", "needs holiday_country")
        return
    if not isinstance(country, str):
        raise CalendarError("/holiday_country", f"expected a country code such as 'ES', got {country!r}")
    if subdivision is not None and not isinstance(subdivision, str):
        raise CalendarError(
            "/holiday_subdivision", f"expected a subdivision code such as 'MD', got {subdivision!r}"
        )
    if country not in holidays_lib.list_supported_countries():
        raise CalendarError("/holiday_country", f"unsupported country code {country!r}")
    try:
        holidays_lib.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise CalendarError("/holiday_subdivision", f"{country} has no subdivision {subdivision!r}") from exc


def _check_dates(value: object, where: str) -> None:
    if not isinstance(value, Mapping):
        raise CalendarError(where, "expected a mapping keyed by datetime.date")
    for i, day in enumerate(value):
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarError(f"{where}/{i}/date", f"expected a datetime.date, got {day!r}")


def _check_intervals(value: object, where: str) -> tuple[Interval, ...]:
    """Validate one date's intervals and return them sorted; overlap within the date is an error."""
    if not isinstance(value, tuple | list):
        raise CalendarError(where, f"expected a sequence of (start, end) pairs, got {value!r}")
    spans: list[tuple[int, int, int, Interval]] = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(isinstance(t, time) for t in pair)):
            raise CalendarError(
                f"{where}/{i}", f"expected a (start, end) pair of datetime.time, got {pair!r}"
            )
        s, e = pair
        if s.tzinfo is not None or e.tzinfo is not None or s.microsecond or e.microsecond:
            raise CalendarError(f"{where}/{i}", "times are naive local wall-clock times in whole seconds")
        lo, hi = _seconds(s), _seconds(e)
        spans.append((lo, hi if hi > lo else hi + 86_400, i, (s.replace(fold=0), e.replace(fold=0))))
    spans.sort()
    for (_, end1, i1, iv1), (start2, _, i2, iv2) in pairwise(spans):
        if start2 < end1:
            a, b = _dump_intervals((iv1, iv2))
            later, earlier = max(i1, i2), min(i1, i2)  # blame the one listed second
            raise CalendarError(
                f"{where}/{later}", f"overlaps interval {earlier} ({'-'.join(a)} and {'-'.join(b)})"
            )
    return tuple(span[3] for span in spans)


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise CalendarError(where, "expected a list")
    return value


def _item(value: object, where: str, keys: tuple[str, str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CalendarError(where, f"expected an object with {keys[0]!r} and {keys[1]!r}")
    for key in value:
        if key not in keys:
            raise CalendarError(f"{where}/{_pointer(key)[1:]}", "unknown field")
    for key in keys:
        if key not in value:
            raise CalendarError(f"{where}/{key}", "required")
    return value


def _parse_date(item: Mapping[str, Any], where: str, seen: Mapping[date, object]) -> date:
    raw = item["date"]
    if not isinstance(raw, str) or not _DATE_RE.fullmatch(raw):
        raise CalendarError(where, f"expected a date 'YYYY-MM-DD', got {raw!r}")
    try:
        day = date.fromisoformat(raw)
    except ValueError as exc:
        raise CalendarError(where, f"{raw!r} is not a valid date") from exc
    if day in seen:
        raise CalendarError(where, f"duplicate date {raw}")
    return day


def _parse_intervals(value: object, where: str) -> tuple[Interval, ...]:
    if not isinstance(value, list):
        raise CalendarError(where, 'expected a list of ["HH:MM", "HH:MM"] pairs')
    out: list[Interval] = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise CalendarError(f"{where}/{i}", f'expected a ["HH:MM", "HH:MM"] pair, got {pair!r}')
        out.append(
            (
                _parse_time(pair[0], f"{where}/{i}/0", end=False),
                _parse_time(pair[1], f"{where}/{i}/1", end=True),
            )
        )
    return tuple(out)


def _parse_time(value: object, where: str, *, end: bool) -> time:
    match = _TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise CalendarError(where, f"expected a time 'HH:MM', got {value!r}")
    h, m, s = int(match[1]), int(match[2]), int(match[3] or 0)
    if end and (h, m, s) == (24, 0, 0):
        return time(0)
    if h > 23 or m > 59 or s > 59:
        raise CalendarError(where, f"{value!r} is not a valid time" + ("" if end else " (24:00 only ends)"))
    return time(h, m, s)


def _dump_intervals(intervals: tuple[Interval, ...]) -> list[list[str]]:
    return [[_dump_time(s), "24:00" if e == time(0) else _dump_time(e)] for s, e in intervals]


def _dump_time(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _pointer(*parts: str) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
