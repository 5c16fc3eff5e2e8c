"""``python -m benchmarks`` (``make bench``): the emulator's figures, printed as one table.

    python -m benchmarks                      # every section
    python -m benchmarks batch rows           # only these sections
    BENCH_QUICK=1 python -m benchmarks        # fewer calls, shorter runs, smaller databases
    python -m benchmarks --list               # the sections and what they measure

Nothing here asserts on time: the figures are for people (and docs/performance.md), measured on whatever
machine runs them, whose name, load and date head the table. Every SOAP call is the one-id
``SetActivityStatus`` of the peers in ``benchmarks/peers`` with every check on: online mode (the
application token), the ticket, Sentry, the request journal and a real commit.
"""
