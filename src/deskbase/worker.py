"""`deskbase worker`: the background composition root beside server.py.

It runs the loops a server runs (replicator, SLA scheduler, webhook dispatcher, and every loop a domain adds
through compose.py) and no HTTP. Each loop holds a lease in the primary store, so any number of workers (and
servers started without `--no-background`) run each loop exactly once; when the holder dies another takes over
within the lease (core/loops.py) and resumes from the watermark it stored.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

from deskbase.compose import compose
from deskbase.config import Settings
from deskbase.core.errors import Unavailable
from deskbase.server import data_dir_problem

log = logging.getLogger("deskbase.worker")


def run_worker(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set, for tests)."""
    problem = data_dir_problem(settings.data_path)
    if problem:
        raise Unavailable(problem, {"data_dir": str(settings.data_path)})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    done = stop or threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping the loops", signum)
        done.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    comp = compose(settings)
    try:
        names = ", ".join(b.name for b in comp.background) or "none (every loop is switched off)"
        print(f"deskbase worker: loops {names}; data {settings.data_path}", file=sys.stdout, flush=True)
        comp.start_background()
        done.wait()
    finally:
        comp.close()
