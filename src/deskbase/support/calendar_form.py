"""Calendars' validation and JSON form (pure): every problem is a CalendarError whose ``field`` is a JSON
pointer, so the HTTP API answers 422 naming it."""

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[time, time]

_KEYS = {"timezone", "weekly", "holidays", "holiday_country", "holiday_subdivision", "overrides"}
_TIME_RE = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CalendarError(ValueError):
    """Rejected calendar definition or argument; ``field`` is a JSON pointer (or argument name) for a 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def parse_fields(d: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments of a calendar's JSON form; every problem is a CalendarError naming its field."""
    if not isinstance(d, Mapping):
        raise CalendarError("", "a calendar must be a JSON object")
    for key in d:
        if key not in _KEYS:
            raise CalendarError(pointer(key), "unknown field")
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
                pointer("weekly", name), f"unknown weekday; use one of {', '.join(DAY_NAMES)}"
            )
        weekly[DAY_NAMES.index(name)] = parse_intervals(ivs, f"/weekly/{name}")
    holidays: dict[date, str] = {}
    for i, item in enumerate(_list(d.get("holidays", []), "/holidays")):
        day = _parse_date(_item(item, f"/holidays/{i}", ("date", "name")), f"/holidays/{i}/date", holidays)
        holidays[day] = item["name"]
    overrides: dict[date, tuple[Interval, ...]] = {}
    for i, item in enumerate(_list(d.get("overrides", []), "/overrides")):
        where = f"/overrides/{i}"
        day = _parse_date(_item(item, where, ("date", "intervals")), f"{where}/date", overrides)
        overrides[day] = parse_intervals(item["intervals"], f"{where}/intervals")
    return dict(
        timezone=d["timezone"],
        weekly=weekly,
        holidays=holidays,
        holiday_country=d.get("holiday_country"),
        holiday_subdivision=d.get("holiday_subdivision"),
        overrides=overrides,
    )


def utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise CalendarError(name, f"must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def load_zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CalendarError("/timezone", f"expected an IANA time zone name, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CalendarError("/timezone", f"unknown IANA time zone {name!r}") from exc


def check_country(country: object, subdivision: object) -> None:
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


def check_dates(value: object, where: str) -> None:
    if not isinstance(value, Mapping):
        raise CalendarError(where, "expected a mapping keyed by datetime.date")
    for i, day in enumerate(value):
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarError(f"{where}/{i}/date", f"expected a datetime.date, got {day!r}")


def check_intervals(value: object, where: str) -> tuple[Interval, ...]:
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
            a, b = dump_intervals((iv1, iv2))
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
            raise CalendarError(f"{where}/{pointer(key)[1:]}", "unknown field")
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


def parse_intervals(value: object, where: str) -> tuple[Interval, ...]:
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


def dump_intervals(intervals: tuple[Interval, ...]) -> list[list[str]]:
    return [[_dump_time(s), "24:00" if e == time(0) else _dump_time(e)] for s, e in intervals]


def _dump_time(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def pointer(*parts: str) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
