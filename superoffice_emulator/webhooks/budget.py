"""How much of its process's time the deliverer may take: calls come first.

A process answering calls as fast as it can has no time to spare: each try the deliverer posts then
costs a call about as much as answering one (one interpreter lock for both). So the deliverer takes
the time the calls leave idle, up to :data:`TARGET` of the whole, and at least :data:`SHARE` of it:
an idle process delivers at once, one the calls keep busy delivers in batches a few times a second,
and the events beyond wait in the outbox, in order, until the load eases (none is lost; each is
delivered late)::

    budget = Budget()
    limit = budget.tries()                 # how many tries the next round may claim (0: none now)
    started = time.thread_time()
    ...                                    # claim, post or settle
    budget.spent(time.thread_time() - started, tries=3)

The deliverer's time is measured on its own threads (``time.thread_time``), the calls' as the rest of
the process's (``time.process_time``), so the figures hold on any machine, however fast.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

SHARE = 0.02
"""Of a busy process's time, what deliveries take at least: about 60 tries a second at a try's cost on
a current CPU."""
TARGET = 0.9
"""Of the time, what the calls and deliveries of a process take together at most while it has calls
to answer: about all one Python interpreter can do (its lock)."""
BURST = 0.02
"""CPU seconds of deliveries a busy process saves up at most (a batch goes once half of it is saved),
and may owe at most: a long quiet spell buys no long burst later."""
FIRST_GUESS = 0.0003
"""CPU seconds a try is taken to cost until the first ones are measured."""
CHEAPEST = 0.00001
"""CPU seconds a try is taken to cost at least, whatever the clocks read."""
MEMORY = 0.95
"""What each look keeps of the deliverer's time and tries so far: about the last twenty looks (a
second of a busy process's rounds) make a try's cost."""


class Budget:
    """The deliverer's share of its process's time (see the module)."""

    def __init__(
        self,
        *,
        share: float = SHARE,
        target: float = TARGET,
        wall: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self.share = share
        self.target = target
        self._wall, self._cpu = wall, cpu
        self._lock = threading.Lock()
        self._looked = (wall(), cpu())
        self._spent = 0.0
        """The deliverer's CPU seconds since :meth:`tries` last looked."""
        self._settled = 0
        """Tries settled since :meth:`tries` last looked."""
        self._banked = BURST
        self._cost = 0.0
        self._count = 0.0
        """The deliverer's recent CPU seconds, and the tries it recently settled (fading by MEMORY)."""
        self._per_try = FIRST_GUESS

    def spent(self, seconds: float, *, tries: int = 0) -> None:
        """The deliverer took ``seconds`` of CPU on one of its threads (to claim, post or settle), and
        settled ``tries`` tries."""
        with self._lock:
            self._spent += seconds
            self._settled += tries

    def tries(self) -> int:
        """How many tries the deliverer may claim now: as many as the time the calls left idle since it
        last looked pays for (at least its share), once enough is saved up for a batch; 0 until then."""
        wall, cpu = self._wall(), self._cpu()
        with self._lock:
            elapsed, used = wall - self._looked[0], cpu - self._looked[1]
            self._looked = (wall, cpu)
            mine, self._spent = self._spent, 0.0
            settled, self._settled = self._settled, 0
            # a try's time comes in over several looks (its claim, its post, its outcome): its cost is
            # the deliverer's recent time over the tries it recently settled, not one look's ratio
            self._cost = self._cost * MEMORY + mine
            self._count = self._count * MEMORY + settled
            if self._count >= 1:
                # a coarse CPU clock (Windows counts in 15.6 ms ticks) may read no time at all
                self._per_try = max(self._cost / self._count, CHEAPEST)
            if elapsed <= 0:
                return 0
            calls = max(0.0, used - mine) / elapsed
            allowance = max(self.share, self.target - calls) * elapsed
            # saved up to a batch's worth while the calls are busy; an idle round may spend all of its own
            self._banked = max(-BURST, min(max(BURST, allowance), self._banked + allowance - mine))
            if allowance < BURST / 2 and self._banked < BURST / 2:
                return 0  # a busy process's deliveries go in batches, a few a second
            return max(1, math.floor(self._banked / self._per_try))
