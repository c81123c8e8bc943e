"""Business-hours calendar: literal tables for DST, holidays and overrides; Hypothesis against brute force."""

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskbase.support.calendar import Calendar, CalendarError, Interval, calendar_24x7

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def z(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM[:SS[.ffffff]]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def cal(timezone: str, weekly: dict[str, list[list[str]]], **extra: Any) -> Calendar:
    return Calendar.from_dict({"timezone": timezone, "weekly": weekly, **extra})


WORKDAY = [["09:00", "13:00"], ["14:00", "18:00"]]


def days(names: str, intervals: list[list[str]]) -> dict[str, list[list[str]]]:
    return {name: intervals for name in names.split()}


OFFICE = cal(
    "Europe/Madrid",
    days("mon tue wed thu fri", WORKDAY),
    holidays=[{"date": "2026-12-25", "name": "Christmas"}],
    overrides=[{"date": "2026-12-24", "intervals": [["09:00", "13:00"]]}],
)
OFFICE_ES = cal("Europe/Madrid", days("mon tue wed thu fri", WORKDAY), holiday_country="ES")
OFFICE_MD = cal(
    "Europe/Madrid",
    days("mon tue wed thu fri", WORKDAY),
    holiday_country="ES",
    holiday_subdivision="MD",
)
MADRID_SUN_EARLY = cal("Europe/Madrid", {"sun": [["00:00", "04:00"]]})
NEW_YORK_SUN_EARLY = cal("America/New_York", {"sun": [["00:00", "06:00"]]})
NIGHTS = cal(
    "Europe/Madrid",
    days("mon tue wed thu fri sat sun", [["22:00", "06:00"]]),
    holidays=[{"date": "2026-12-25", "name": "Christmas"}],
)
NIGHT_INTO_MORNING = cal("Europe/Madrid", {"sun": [["22:00", "06:00"]], "mon": [["05:00", "09:00"]]})


@dataclass(frozen=True)
class WindowCase:
    id: str
    calendar: Calendar
    start: str
    end: str
    expected: list[tuple[str, str]]


WINDOW_CASES = [
    WindowCase(
        "lunch break, winter offset", OFFICE, "2026-01-13 00:00", "2026-01-14 00:00",
        [("2026-01-13 08:00", "2026-01-13 12:00"), ("2026-01-13 13:00", "2026-01-13 17:00")],
    ),
    WindowCase(
        "lunch break, summer offset", OFFICE, "2026-07-14 00:00", "2026-07-15 00:00",
        [("2026-07-14 07:00", "2026-07-14 11:00"), ("2026-07-14 12:00", "2026-07-14 16:00")],
    ),
    WindowCase(
        "clipped to the query range", OFFICE, "2026-01-13 09:30", "2026-01-13 14:00",
        [("2026-01-13 09:30", "2026-01-13 12:00"), ("2026-01-13 13:00", "2026-01-13 14:00")],
    ),
    WindowCase("weekend is closed", OFFICE, "2026-01-17 00:00", "2026-01-19 00:00", []),
    WindowCase("explicit holiday in Madrid", OFFICE, "2026-12-24 23:00", "2026-12-25 23:00", []),
    WindowCase(
        "override replaces the day's hours", OFFICE, "2026-12-23 23:00", "2026-12-24 23:00",
        [("2026-12-24 08:00", "2026-12-24 12:00")],
    ),
    WindowCase("country holiday: ES Epiphany", OFFICE_ES, "2026-01-05 23:00", "2026-01-06 23:00", []),
    WindowCase(
        "day after Epiphany is open", OFFICE_ES, "2026-01-06 23:00", "2026-01-07 23:00",
        [("2026-01-07 08:00", "2026-01-07 12:00"), ("2026-01-07 13:00", "2026-01-07 17:00")],
    ),
    WindowCase("subdivision holiday: ES-MD 11-02", OFFICE_MD, "2026-11-01 23:00", "2026-11-02 23:00", []),
    WindowCase(
        "ES without MD works 2026-11-02", OFFICE_ES, "2026-11-01 23:00", "2026-11-02 23:00",
        [("2026-11-02 08:00", "2026-11-02 12:00"), ("2026-11-02 13:00", "2026-11-02 17:00")],
    ),
    WindowCase(
        "Madrid spring-forward: 00:00-04:00 is 3 real hours", MADRID_SUN_EARLY,
        "2026-03-28 00:00", "2026-03-30 00:00", [("2026-03-28 23:00", "2026-03-29 02:00")],
    ),
    WindowCase(
        "Madrid: start inside the gap opens at 03:00 local",
        cal("Europe/Madrid", {"sun": [["02:30", "05:00"]]}),
        "2026-03-28 00:00", "2026-03-30 00:00", [("2026-03-29 01:00", "2026-03-29 03:00")],
    ),
    WindowCase(
        "Madrid: end inside the gap closes at 03:00 local",
        cal("Europe/Madrid", {"sun": [["01:00", "02:30"]]}),
        "2026-03-28 00:00", "2026-03-30 00:00", [("2026-03-29 00:00", "2026-03-29 01:00")],
    ),
    WindowCase(
        "Madrid: a window wholly inside the gap is empty",
        cal("Europe/Madrid", {"sun": [["02:00", "02:45"]]}),
        "2026-03-28 00:00", "2026-03-30 00:00", [],
    ),
    WindowCase(
        "Madrid fall-back: 00:00-04:00 is 5 real hours", MADRID_SUN_EARLY,
        "2026-10-24 00:00", "2026-10-26 00:00", [("2026-10-24 22:00", "2026-10-25 03:00")],
    ),
    WindowCase(
        "Madrid: the repeated hour counts twice",
        cal("Europe/Madrid", {"sun": [["02:00", "03:00"]]}),
        "2026-10-24 00:00", "2026-10-26 00:00", [("2026-10-25 00:00", "2026-10-25 02:00")],
    ),
    WindowCase(
        "Madrid: an end in the repeated hour closes at its first pass",
        cal("Europe/Madrid", {"sun": [["01:00", "02:30"]]}),
        "2026-10-24 00:00", "2026-10-26 00:00", [("2026-10-24 23:00", "2026-10-25 00:30")],
    ),
    WindowCase(
        "Madrid: a start in the repeated hour opens at its first pass",
        cal("Europe/Madrid", {"sun": [["02:30", "04:00"]]}),
        "2026-10-24 00:00", "2026-10-26 00:00", [("2026-10-25 00:30", "2026-10-25 03:00")],
    ),
    WindowCase(
        "New York spring-forward: 00:00-06:00 is 5 real hours", NEW_YORK_SUN_EARLY,
        "2026-03-07 00:00", "2026-03-09 00:00", [("2026-03-08 05:00", "2026-03-08 10:00")],
    ),
    WindowCase(
        "New York: start inside the gap",
        cal("America/New_York", {"sun": [["02:30", "04:00"]]}),
        "2026-03-07 00:00", "2026-03-09 00:00", [("2026-03-08 07:00", "2026-03-08 08:00")],
    ),
    WindowCase(
        "New York fall-back: 00:00-06:00 is 7 real hours", NEW_YORK_SUN_EARLY,
        "2026-10-31 00:00", "2026-11-02 00:00", [("2026-11-01 04:00", "2026-11-01 11:00")],
    ),
    WindowCase(
        "Kolkata half-hour offset", cal("Asia/Kolkata", {"mon": [["09:00", "17:30"]]}),
        "2026-01-12 00:00", "2026-01-13 00:00", [("2026-01-12 03:30", "2026-01-12 12:00")],
    ),
    WindowCase(
        "overnight span", cal("Europe/Madrid", {"fri": [["22:00", "06:00"]]}),
        "2026-01-16 00:00", "2026-01-18 00:00", [("2026-01-16 21:00", "2026-01-17 05:00")],
    ),
    WindowCase(
        "overnight into a holiday runs; starting on it does not", NIGHTS,
        "2026-12-24 12:00", "2026-12-27 00:00",
        [("2026-12-24 21:00", "2026-12-25 05:00"), ("2026-12-26 21:00", "2026-12-27 00:00")],
    ),
    WindowCase(
        "overnight span united with the next morning", NIGHT_INTO_MORNING,
        "2026-01-18 00:00", "2026-01-20 00:00", [("2026-01-18 21:00", "2026-01-19 08:00")],
    ),
    WindowCase(
        "adjacent intervals merge", cal("UTC", {"mon": [["09:00", "12:00"], ["12:00", "13:00"]]}),
        "2026-01-12 00:00", "2026-01-13 00:00", [("2026-01-12 09:00", "2026-01-12 13:00")],
    ),
    WindowCase(
        "24:00 meets the next day's 00:00",
        cal("UTC", {"mon": [["20:00", "24:00"]], "tue": [["00:00", "02:00"]]}),
        "2026-01-12 00:00", "2026-01-14 00:00", [("2026-01-12 20:00", "2026-01-13 02:00")],
    ),
    WindowCase(
        "override beats a holiday",
        cal(
            "UTC", {}, holidays=[{"date": "2026-12-25", "name": "Christmas"}],
            overrides=[{"date": "2026-12-25", "intervals": [["10:00", "12:00"]]}],
        ),
        "2026-12-25 00:00", "2026-12-26 00:00", [("2026-12-25 10:00", "2026-12-25 12:00")],
    ),
    WindowCase(
        "empty override closes a working day",
        cal("UTC", {"mon": WORKDAY}, overrides=[{"date": "2026-01-12", "intervals": []}]),
        "2026-01-12 00:00", "2026-01-13 00:00", [],
    ),
    WindowCase("empty range", OFFICE, "2026-01-13 10:00", "2026-01-13 10:00", []),
]  # fmt: skip


@pytest.mark.parametrize("case", WINDOW_CASES, ids=lambda c: c.id)
def test_windows(case: WindowCase) -> None:
    got = list(case.calendar.windows(z(case.start), z(case.end)))
    assert got == [(z(s), z(e)) for s, e in case.expected]
    total = sum(((e - s) // SECOND for s, e in got), 0)
    assert case.calendar.business_between(z(case.start), z(case.end)) == total


@pytest.mark.parametrize(
    ("calendar", "start", "seconds", "expected"),
    [
        (OFFICE, "2026-01-17 10:00", 0, "2026-01-17 10:00"),  # 0 is start itself, even when closed
        (OFFICE, "2026-01-13 08:00", 3600, "2026-01-13 09:00"),  # exactly at opening
        (OFFICE, "2026-01-13 08:00", 4 * 3600, "2026-01-13 12:00"),  # uses the window up: its end
        (OFFICE, "2026-01-13 12:00", 1, "2026-01-13 13:00:01"),  # exactly at the lunch boundary
        (OFFICE, "2026-01-13 11:00", 2 * 3600, "2026-01-13 14:00"),  # across lunch
        (OFFICE, "2026-01-16 16:00", 2 * 3600, "2026-01-19 09:00"),  # across the weekend
        (OFFICE, "2026-12-24 11:00", 2 * 3600, "2026-12-28 09:00"),  # override, holiday, weekend
        (OFFICE_ES, "2026-01-05 16:00", 2 * 3600, "2026-01-07 09:00"),  # over Epiphany
        (NEW_YORK_SUN_EARLY, "2026-03-08 05:00", 5 * 3600, "2026-03-08 10:00"),
        (NEW_YORK_SUN_EARLY, "2026-03-08 05:00", 5 * 3600 + 1, "2026-03-15 04:00:01"),
        (MADRID_SUN_EARLY, "2026-10-24 22:00", 5 * 3600, "2026-10-25 03:00"),
        (calendar_24x7("Europe/Madrid"), "2026-03-28 12:00", 86_400, "2026-03-29 12:00"),
        (OFFICE, "2026-01-13 08:00:00.250", 10, "2026-01-13 08:00:10.250"),  # sub-second part kept
    ],
)
def test_add_business(calendar: Calendar, start: str, seconds: int, expected: str) -> None:
    assert calendar.add_business(z(start), seconds) == z(expected)


@pytest.mark.parametrize(
    ("calendar", "a", "b", "expected"),
    [
        (OFFICE, "2026-01-13 12:00", "2026-01-13 08:00", 0),
        (OFFICE, "2026-01-13 00:00", "2026-01-14 00:00", 8 * 3600),
        (OFFICE, "2026-01-12 00:00", "2026-01-19 00:00", 40 * 3600),
        (OFFICE, "2026-12-21 00:00", "2026-12-28 00:00", 28 * 3600),  # 3 days + override 4 h + holiday
        (MADRID_SUN_EARLY, "2026-03-28 00:00", "2026-03-30 00:00", 3 * 3600),
        (MADRID_SUN_EARLY, "2026-10-24 00:00", "2026-10-26 00:00", 5 * 3600),
        (NEW_YORK_SUN_EARLY, "2026-10-31 00:00", "2026-11-02 00:00", 7 * 3600),
        (NIGHT_INTO_MORNING, "2026-01-18 00:00", "2026-01-20 00:00", 11 * 3600),  # union, not 12 h
        (calendar_24x7("Europe/Madrid"), "2026-10-24 22:00", "2026-10-25 23:00", 25 * 3600),
        (OFFICE, "2026-01-13 08:00:00.5", "2026-01-13 08:00:02", 1),  # truncated to whole seconds
    ],
)
def test_business_between(calendar: Calendar, a: str, b: str, expected: int) -> None:
    assert calendar.business_between(z(a), z(b)) == expected


@pytest.mark.parametrize(
    ("calendar", "at", "is_open", "next_open"),
    [
        (OFFICE, "2026-01-13 08:00", True, "2026-01-13 08:00"),
        (OFFICE, "2026-01-13 07:59:59", False, "2026-01-13 08:00"),
        (OFFICE, "2026-01-13 11:59:59", True, "2026-01-13 11:59:59"),
        (OFFICE, "2026-01-13 12:00", False, "2026-01-13 13:00"),  # ends are exclusive
        (OFFICE, "2026-01-16 17:00", False, "2026-01-19 08:00"),
        (OFFICE_ES, "2026-01-05 17:00", False, "2026-01-07 08:00"),
        (
            cal("Europe/Madrid", {"sun": [["02:30", "05:00"]]}),
            "2026-03-29 00:59:59",
            False,
            "2026-03-29 01:00",
        ),
        # 00:15Z and 01:15Z both read 02:15 in Madrid; only the first pass is inside 01:00-02:30.
        (cal("Europe/Madrid", {"sun": [["01:00", "02:30"]]}), "2026-10-25 00:15", True, "2026-10-25 00:15"),
        (cal("Europe/Madrid", {"sun": [["01:00", "02:30"]]}), "2026-10-25 01:15", False, "2026-11-01 00:00"),
    ],
)
def test_is_open_and_next_open(calendar: Calendar, at: str, is_open: bool, next_open: str) -> None:
    assert calendar.is_open(z(at)) is is_open
    assert calendar.next_open(z(at)) == z(next_open)


def test_results_are_utc_for_any_aware_input() -> None:
    madrid = datetime(2026, 1, 13, 10, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    result = OFFICE.add_business(madrid, 60)
    assert result == z("2026-01-13 09:01") and result.tzinfo is UTC
    assert OFFICE.next_open(madrid).tzinfo is UTC
    assert all(s.tzinfo is UTC and e.tzinfo is UTC for s, e in OFFICE.windows(madrid, madrid + timedelta(1)))


# --- JSON form and validation ---

EXAMPLE = {
    "timezone": "Europe/Madrid",
    "weekly": {
        "mon": [["09:00", "13:00"], ["14:00", "18:00"]],
        "tue": [["09:00", "18:00"]],
        "wed": [],
        "thu": [["08:30:15", "12:00"]],
        "fri": [["09:00", "24:00"]],
        "sat": [],
        "sun": [["22:00", "06:00"]],
    },
    "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
    "holiday_country": "ES",
    "holiday_subdivision": "MD",
    "overrides": [{"date": "2026-12-24", "intervals": [["09:00", "13:00"]]}],
}


def test_json_round_trip() -> None:
    calendar = Calendar.from_dict(EXAMPLE)
    assert calendar.to_dict() == EXAMPLE
    assert Calendar.from_dict(calendar.to_dict()) == calendar
    assert calendar.weekly[4] == ((time(9), time(0)),)  # 24:00 is midnight at the end of the day


def test_json_form_is_normalised() -> None:
    calendar = cal("UTC", {"mon": [["14:00", "18:00"], ["09:00", "13:00"]], "fri": [["20:00", "00:00"]]})
    assert calendar.to_dict()["weekly"]["mon"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    assert calendar.to_dict()["weekly"]["fri"] == [["20:00", "24:00"]]
    assert calendar.to_dict()["weekly"]["tue"] == []  # missing weekdays are closed
    assert calendar == cal(
        "UTC", {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "fri": [["20:00", "24:00"]]}
    )


def test_equal_calendars_hash_equal_and_python_form_matches_json() -> None:
    python = Calendar("Europe/Madrid", {0: ((time(14), time(18)), (time(9), time(13)))}, {})
    from_json = cal("Europe/Madrid", {"mon": WORKDAY})
    assert python == from_json and hash(python) == hash(from_json)
    assert len({python, from_json, OFFICE}) == 2


def test_calendar_24x7_is_elapsed_time_in_any_zone() -> None:
    for zone in ("UTC", "Europe/Madrid", "Australia/Lord_Howe"):
        always = calendar_24x7(zone)
        assert always.business_between(z("2026-01-01 00:00"), z("2027-01-01 00:00")) == 365 * 86_400
        assert list(always.windows(z("2026-03-01 00:00"), z("2026-11-01 00:00"))) == [
            (z("2026-03-01 00:00"), z("2026-11-01 00:00"))
        ]


def test_a_calendar_never_open_raises_instead_of_looping() -> None:
    never = Calendar("UTC", {}, {})
    with pytest.raises(ValueError, match="no open time"):
        never.add_business(z("2026-01-01 00:00"), 1)
    with pytest.raises(ValueError, match="no open time"):
        never.next_open(z("2026-01-01 00:00"))
    assert never.business_between(z("2026-01-01 00:00"), z("2030-01-01 00:00")) == 0
    assert not never.is_open(z("2026-01-01 00:00"))


def test_a_single_far_override_is_found_before_the_guard() -> None:
    once = Calendar("UTC", {}, {}, overrides={date(2028, 6, 1): ((time(9), time(10)),)})
    assert once.add_business(z("2026-01-01 00:00"), 60) == z("2028-06-01 09:01")
    with pytest.raises(ValueError, match="no open time"):
        once.add_business(z("2028-06-01 09:30"), 3600)


def _drop(key: str) -> dict[str, Any]:
    return {k: v for k, v in EXAMPLE.items() if k != key}


def _with(**changes: Any) -> dict[str, Any]:
    return {**EXAMPLE, **changes}


def _day(intervals: Any) -> dict[str, Any]:
    return _with(weekly={"mon": intervals})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param([], "", id="not an object"),
        pytest.param(_with(colour="red"), "/colour", id="unknown field"),
        pytest.param(_drop("timezone"), "/timezone", id="missing timezone"),
        pytest.param(_with(timezone="Mars/Olympus"), "/timezone", id="unknown zone"),
        pytest.param(_with(timezone="europe/madrid"), "/timezone", id="zone is case-sensitive"),
        pytest.param(_with(timezone="../etc/passwd"), "/timezone", id="zone path traversal"),
        pytest.param(_with(timezone=1), "/timezone", id="zone not a string"),
        pytest.param(_drop("weekly"), "/weekly", id="missing weekly"),
        pytest.param(_with(weekly=[]), "/weekly", id="weekly not an object"),
        pytest.param(_with(weekly={"monday": []}), "/weekly/monday", id="unknown weekday"),
        pytest.param(_day("09:00-18:00"), "/weekly/mon", id="intervals not a list"),
        pytest.param(_day([["09:00"]]), "/weekly/mon/0", id="interval not a pair"),
        pytest.param(_day([["9:00", "18:00"]]), "/weekly/mon/0/0", id="time not HH:MM"),
        pytest.param(_day([["09:00", "18:60"]]), "/weekly/mon/0/1", id="minute out of range"),
        pytest.param(_day([["25:00", "26:00"]]), "/weekly/mon/0/0", id="hour out of range"),
        pytest.param(_day([["24:00", "06:00"]]), "/weekly/mon/0/0", id="24:00 as a start"),
        pytest.param(_day([["09:00", "24:30"]]), "/weekly/mon/0/1", id="past 24:00"),
        pytest.param(_day([["09:00", 18]]), "/weekly/mon/0/1", id="time not a string"),
        pytest.param(_day([["09:00", "13:00"], ["12:00", "14:00"]]), "/weekly/mon/1", id="overlap"),
        pytest.param(_day([["22:00", "06:00"], ["23:00", "23:30"]]), "/weekly/mon/1", id="overnight overlap"),
        pytest.param(_day([["09:00", "13:00"], ["09:00", "10:00"]]), "/weekly/mon/1", id="same start"),
        pytest.param(_with(holidays={}), "/holidays", id="holidays not a list"),
        pytest.param(_with(holidays=["2026-12-25"]), "/holidays/0", id="holiday not an object"),
        pytest.param(
            _with(holidays=[{"date": "2026-13-01", "name": "x"}]), "/holidays/0/date", id="bad date"
        ),
        pytest.param(
            _with(holidays=[{"date": "20261225", "name": "x"}]), "/holidays/0/date", id="basic date"
        ),
        pytest.param(_with(holidays=[{"date": "2026-12-25"}]), "/holidays/0/name", id="holiday unnamed"),
        pytest.param(
            _with(holidays=[{"date": "2026-12-25", "name": " "}]), "/holidays/0/name", id="blank name"
        ),
        pytest.param(
            _with(holidays=[{"date": "2026-12-25", "name": "a", "x": 1}]), "/holidays/0/x", id="holiday extra"
        ),
        pytest.param(
            _with(holidays=[{"date": "2026-12-25", "name": "a"}, {"date": "2026-12-25", "name": "b"}]),
            "/holidays/1/date",
            id="duplicate holiday",
        ),
        pytest.param(
            _with(overrides=[{"date": "2026-12-24"}]), "/overrides/0/intervals", id="override empty"
        ),
        pytest.param(
            _with(overrides=[{"date": "2026-12-24", "intervals": [["09:00", "x"]]}]),
            "/overrides/0/intervals/0/1",
            id="override bad time",
        ),
        pytest.param(
            _with(overrides=[{"date": "2026-12-24", "intervals": [["09:00", "12:00"], ["11:00", "13:00"]]}]),
            "/overrides/0/intervals/1",
            id="override overlap",
        ),
        pytest.param(
            _with(
                overrides=[{"date": "2026-12-24", "intervals": []}, {"date": "2026-12-24", "intervals": []}]
            ),
            "/overrides/1/date",
            id="duplicate override",
        ),
        pytest.param(_with(holiday_country="XX"), "/holiday_country", id="unknown country"),
        pytest.param(_with(holiday_country="es"), "/holiday_country", id="country is case-sensitive"),
        pytest.param(_with(holiday_subdivision="ZZ"), "/holiday_subdivision", id="unknown subdivision"),
        pytest.param(_with(holiday_country=None), "/holiday_subdivision", id="subdivision without country"),
    ],
)
def test_from_dict_rejects(data: Any, field: str) -> None:
    with pytest.raises(ValueError) as caught:
        Calendar.from_dict(data)
    assert isinstance(caught.value, CalendarError)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: " if field else "")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda: Calendar("UTC", {7: ()}), "/weekly", id="weekday out of range"),
        pytest.param(
            lambda: Calendar("UTC", {0: ((time(9), "10:00"),)}),  # type: ignore[dict-item]
            "/weekly/mon/0",
            id="not a time",
        ),
        pytest.param(
            lambda: Calendar("UTC", {0: ((time(9), time(10, tzinfo=UTC)),)}), "/weekly/mon/0", id="aware time"
        ),
        pytest.param(
            lambda: Calendar("UTC", {0: ((time(9, 0, 0, 5), time(10)),)}), "/weekly/mon/0", id="microseconds"
        ),
        pytest.param(
            lambda: Calendar("UTC", {}, {datetime(2026, 1, 1): "x"}), "/holidays/0/date", id="datetime"
        ),
        pytest.param(lambda: OFFICE.add_business(datetime(2026, 1, 1), 1), "start", id="naive start"),
        pytest.param(
            lambda: OFFICE.add_business(z("2026-01-01 00:00"), -1), "seconds", id="negative seconds"
        ),
        pytest.param(
            lambda: OFFICE.add_business(z("2026-01-01 00:00"), 1.5),  # type: ignore[arg-type]
            "seconds",
            id="float seconds",
        ),
        pytest.param(
            lambda: OFFICE.business_between(z("2026-01-01 00:00"), datetime(2026, 1, 2)), "b", id="b"
        ),
        pytest.param(lambda: OFFICE.is_open(datetime(2026, 1, 1)), "at", id="naive at"),
        pytest.param(
            lambda: OFFICE.windows(datetime(2026, 1, 1), z("2026-01-02 00:00")), "start", id="eager"
        ),
    ],
)
def test_python_api_rejects(build: Any, field: str) -> None:
    with pytest.raises(CalendarError) as caught:
        build()
    assert caught.value.field == field


# --- properties against a brute-force oracle ---
#
# The oracle reads the local clock minute by minute and keeps the highest reading seen so far: an instant is
# open iff that reading lies in [start, end) of one interval instance (the module's DST rule, stated without
# folds or gap arithmetic). All boundaries and DST transitions used here fall on whole minutes.

ZONES = ("Europe/Madrid", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
# Local dates of the 2026 transitions in those zones (NY, Madrid, Lord Howe x2, Madrid, NY).
ANCHORS = (date(2026, 3, 8), date(2026, 3, 29), date(2026, 4, 5), date(2026, 10, 4), date(2026, 10, 25),
           date(2026, 11, 1))  # fmt: skip


def _half_hour(k: int) -> time:
    return time(0) if k == 48 else time(k // 2, 30 * (k % 2))


@st.composite
def day_intervals(draw: st.DrawFn) -> tuple[Interval, ...]:
    """Up to three same-day intervals on a 30-minute grid (24:00 allowed as an end), maybe one overnight."""
    points = sorted(draw(st.lists(st.integers(0, 48), max_size=6)))
    pairs = [(points[i], points[i + 1]) for i in range(0, len(points) - 1, 2) if points[i] < points[i + 1]]
    free_from = pairs[-1][1] if pairs else 0
    if free_from < 48 and draw(st.booleans()):
        start = draw(st.integers(free_from, 47))
        pairs.append((start, draw(st.integers(0, start))))  # end <= start: runs into the next date
    return tuple((_half_hour(s), _half_hour(e)) for s, e in pairs)


near_anchor = st.builds(lambda d, n: d + timedelta(days=n), st.sampled_from(ANCHORS), st.integers(-3, 3))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    weekly = draw(st.lists(day_intervals(), min_size=7, max_size=7).filter(any))
    return Calendar(
        timezone=draw(st.sampled_from(ZONES)),
        weekly=dict(enumerate(weekly)),
        holidays=draw(st.dictionaries(near_anchor, st.just("Holiday"), max_size=2)),
        overrides=draw(st.dictionaries(near_anchor, day_intervals(), max_size=2)),
    )


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    anchor = datetime.combine(draw(st.sampled_from(ANCHORS)), time(12), tzinfo=UTC)
    return anchor + draw(st.integers(-4 * 1440, 4 * 1440)) * MINUTE


def _intervals_on(calendar: Calendar, day: date) -> tuple[Interval, ...]:
    if day in calendar.overrides:
        return calendar.overrides[day]
    if day in calendar.holidays:
        return ()
    return calendar.weekly[day.weekday()]


def oracle_open_minutes(calendar: Calendar, a: datetime, b: datetime) -> list[bool]:
    """Per minute of [a, b): is the calendar open?"""
    zone = ZoneInfo(calendar.timezone)
    scan_from = a - timedelta(days=1)  # lets the running maximum settle before `a`
    highest: list[datetime] = []
    for k in range((b - scan_from) // MINUTE):
        reading = (scan_from + k * MINUTE).astimezone(zone).replace(tzinfo=None)
        highest.append(max(reading, highest[-1]) if highest else reading)
    open_at = [False] * len(highest)
    day = scan_from.astimezone(zone).date() - timedelta(days=1)
    while day <= b.astimezone(zone).date() + timedelta(days=1):
        for s, e in _intervals_on(calendar, day):
            opens = datetime.combine(day, s)
            closes = datetime.combine(day + timedelta(days=1) if e <= s else day, e)
            for k in range(bisect_left(highest, opens), bisect_left(highest, closes)):
                open_at[k] = True
        day += timedelta(days=1)
    return open_at[(a - scan_from) // MINUTE :]


PROPERTY = settings(max_examples=200, deadline=None, database=None)


@PROPERTY
@given(calendars(), instants(), st.integers(0, 4 * 1440))
def test_business_between_matches_the_oracle(calendar: Calendar, a: datetime, minutes: int) -> None:
    b = a + minutes * MINUTE
    oracle = oracle_open_minutes(calendar, a, b)
    assert calendar.business_between(a, b) == sum(oracle) * 60
    windows = list(calendar.windows(a, b))
    assert sum(((e - s) // SECOND for s, e in windows), 0) == sum(oracle) * 60
    assert all(a <= s < e <= b for s, e in windows)
    assert all(e1 < s2 for (_, e1), (s2, _) in pairwise(windows))  # merged
    if minutes:
        assert calendar.is_open(a) is oracle[0]
        assert calendar.is_open(b - MINUTE) is oracle[-1]


@PROPERTY
@given(calendars(), instants(), st.integers(0, 5 * 86_400))
def test_add_business_is_inverted_by_business_between(calendar: Calendar, a: datetime, seconds: int) -> None:
    t = calendar.add_business(a, seconds)
    assert t >= a
    assert calendar.business_between(a, t) == seconds
    if seconds:  # and t is the earliest such instant
        assert calendar.business_between(a, t - SECOND) == seconds - 1
        assert calendar.is_open(t - SECOND)


@PROPERTY
@given(calendars(), instants(), instants(), st.integers(0, 3 * 86_400), st.integers(0, 3 * 86_400))
def test_add_business_is_monotonic(calendar: Calendar, a1: datetime, a2: datetime, d1: int, d2: int) -> None:
    a1, a2 = sorted((a1, a2))
    d1, d2 = sorted((d1, d2))
    assert calendar.add_business(a1, d1) <= calendar.add_business(a1, d2)
    assert calendar.add_business(a1, d1) <= calendar.add_business(a2, d1)


@PROPERTY
@given(calendars(), instants(), instants(), instants())
def test_business_between_is_additive(calendar: Calendar, p: datetime, q: datetime, r: datetime) -> None:
    a, b, c = sorted((p, q, r))
    between = calendar.business_between
    assert between(a, c) == between(a, b) + between(b, c)
    assert between(c, a) == 0


@PROPERTY
@given(calendars(), instants())
def test_next_open_is_the_first_open_instant(calendar: Calendar, at: datetime) -> None:
    t = calendar.next_open(at)
    assert t >= at and calendar.is_open(t)
    assert calendar.business_between(at, t) == 0
    assert (t == at) is calendar.is_open(at)


def test_oracle_agrees_with_the_documented_fall_back_example() -> None:
    open_at = oracle_open_minutes(MADRID_SUN_EARLY, z("2026-10-24 00:00"), z("2026-10-26 00:00"))
    assert sum(open_at) == 5 * 60


def test_country_holidays_are_the_holidays_package_dates() -> None:
    es = holidays_lib.country_holidays("ES", years=2026)
    weekday_holidays = [d for d in es if d.weekday() < 5]
    for day in weekday_holidays:
        start = datetime.combine(day, time(0), tzinfo=ZoneInfo("Europe/Madrid"))
        assert OFFICE_ES.business_between(start, start + timedelta(days=1)) == 0, day
