"""The process's one clock: the event loop's, mapped to wall time once.

Everything in a call runs on `loop.time()` (monotonic, the clock ratecontrol/ and the frame
assembler are fed). Metrics need wall times, so that two processes' records line up; they are
loop times plus an offset taken once, when the clock is made: a wall clock stepped mid-call
(NTP) moves no timestamp of ours, and every record of one process is on one time line.
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self.wall_offset_s = time.time() - self._loop.time()  # taken once, here

    def now_s(self) -> float:
        """Loop time in seconds: what timers are armed on (`loop.call_at`)."""
        return self._loop.time()

    def now_ms(self) -> float:
        return self._loop.time() * 1000.0

    def wall_s(self, now_s: float | None = None) -> float:
        """Wall time (seconds since the epoch) of loop time `now_s`, or of now."""
        return (self._loop.time() if now_s is None else now_s) + self.wall_offset_s
