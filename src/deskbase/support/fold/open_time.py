"""Open time as integer microseconds: instants, and business-time arithmetic on a calendar's cached index (pure)."""

from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, time, timedelta
from weakref import WeakKeyDictionary

from deskbase.support.calendar import MAX_CLOSED_DAYS, Calendar, CalendarError

SEC = 1_000_000  # instants and durations are integer microseconds since the epoch inside the fold
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


def micros(value: datetime, what: str) -> int:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return (value - EPOCH) // MICRO


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


class Instants:
    """Converts the walk's µs back to datetimes, reusing the input instants it saw (a base of the walk's parts)."""

    instants: dict[int, datetime]

    def _time(self, us: int) -> datetime:
        """µs -> aware UTC datetime; most outputs repeat input instants, so convert each value once."""
        hit = self.instants.get(us)
        if hit is None:
            hit = self.instants[us] = EPOCH + timedelta(microseconds=us)
        return hit

    def _time_or_none(self, us: int | None) -> datetime | None:
        return None if us is None else self._time(us)


class Wall:
    """Always open: plain-time clocks and 24x7 calendars need no calendar walk at all."""

    @staticmethod
    def between(a: int, b: int) -> int:
        return b - a if b > a else 0

    @staticmethod
    def advance(a: int, need: int) -> int:
        return a + need if need > 0 else a


WALL = Wall()
_CHUNK = 28 * 86_400 * SEC
_MAX_EMPTY_CHUNKS = MAX_CLOSED_DAYS // 28 + 2
_CHUNK_LIMIT = 20_000
_FULL_DAY = ((time(0), time(0)),)
_Chunk = tuple[list[int], list[int], list[int]]
_INDEXES: "WeakKeyDictionary[Calendar, Business | Wall]" = WeakKeyDictionary()


class Business:
    """A calendar's open windows cut into 28-day chunks of sorted µs windows with running sums.

    The windows come from ``Calendar.windows`` (one rule for open time, in calendar.py); this index only makes
    "business time between" and "instant after N business seconds" two bisections instead of a calendar walk.
    Holds no reference to the calendar, so the weak cache keyed by it can let go.
    """

    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: dict[int, _Chunk] = {}

    def chunk(self, calendar: Calendar, k: int) -> _Chunk:
        hit = self.chunks.get(k)
        if hit is None:
            starts: list[int] = []
            ends: list[int] = []
            sums = [0]
            for s, e in calendar.windows(from_micros(k * _CHUNK), from_micros((k + 1) * _CHUNK)):
                s_us, e_us = (s - EPOCH) // MICRO, (e - EPOCH) // MICRO
                starts.append(s_us)
                ends.append(e_us)
                sums.append(sums[-1] + e_us - s_us)
            if len(self.chunks) >= _CHUNK_LIMIT:
                self.chunks.clear()
            hit = self.chunks[k] = (starts, ends, sums)
        return hit


class Work:
    """Business-time arithmetic on one calendar for one evaluation (calendar + its cached index)."""

    __slots__ = ("calendar", "index")

    def __init__(self, calendar: Calendar, index: Business) -> None:
        self.calendar = calendar
        self.index = index

    def _upto(self, k: int, x: int) -> int:
        starts, ends, sums = self.index.chunk(self.calendar, k)
        i = bisect_right(starts, x) - 1
        if i < 0:
            return 0
        end = ends[i]
        return sums[i] + (x if x < end else end) - starts[i]

    def between(self, a: int, b: int) -> int:
        if b <= a:
            return 0
        ka, kb = a // _CHUNK, b // _CHUNK
        if ka == kb:
            return self._upto(ka, b) - self._upto(ka, a)
        total = self.index.chunk(self.calendar, ka)[2][-1] - self._upto(ka, a)
        for k in range(ka + 1, kb):
            total += self.index.chunk(self.calendar, k)[2][-1]
        return total + self._upto(kb, b)

    def advance(self, a: int, need: int) -> int:
        """The earliest instant at which ``need`` µs of open time have elapsed since ``a``."""
        if need <= 0:
            return a
        k = a // _CHUNK
        goal = self._upto(k, a) + need
        empty = 0
        while True:
            starts, _, sums = self.index.chunk(self.calendar, k)
            total = sums[-1]
            if goal <= total:
                i = bisect_left(sums, goal) - 1
                return starts[i] + goal - sums[i]
            goal -= total
            empty = empty + 1 if not total else 0
            if empty > _MAX_EMPTY_CHUNKS:
                raise CalendarError(
                    "", f"calendar has no open time in {MAX_CLOSED_DAYS} days from {from_micros(k * _CHUNK)}"
                )
            k += 1


def work_on(calendar: Calendar) -> "Work | Wall":
    index = _INDEXES.get(calendar)
    if index is None:
        always = all(ivs == _FULL_DAY for ivs in calendar.weekly.values())
        always = (
            always and not calendar.overrides and not calendar.holidays and calendar.holiday_country is None
        )
        index = _INDEXES[calendar] = WALL if always else Business()
    return index if isinstance(index, Wall) else Work(calendar, index)
