"""Python's cyclic garbage collector held off while the replicator turns a batch of store rows into Arrow.

Why: reading a batch makes several Python objects per row (rows, tuples, values) that all live until the batch
is converted. In a server holding a few hundred thousand long-lived objects, that growth sets off full
(generation 2) collections again and again, each scanning every object in the process, and none of them can
free anything the batch holds. Replaying 10,000 ticket changes with their SLA rows ran ~2.4 times faster
with the collector held off (bench/README.md, "Replicator batches without the garbage collector").

The collector is process-wide, so the pause is too: kept short (one batch read and converted), nested across
threads (the collector resumes when the last pause ends) and never switching on a collector that was off
when the first pause began. Reference counting still frees everything acyclic meanwhile.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off automatic cyclic collection for the block (see the module's docstring)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
