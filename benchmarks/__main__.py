"""``python -m benchmarks [SECTION ...]``: run the sections (all but ``profile``), print the table."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import traceback

from benchmarks import common
from benchmarks.sections import DEFAULT, SECTIONS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="The emulator's figures as one table (BENCH_QUICK=1 for a short run). "
        f"Sections: {', '.join(SECTIONS)}; by default all but "
        f"{', '.join(name for name in SECTIONS if name not in DEFAULT)}.",
    )
    parser.add_argument("sections", nargs="*", metavar="SECTION", help="sections to run, in this order")
    parser.add_argument("--list", action="store_true", help="name the sections and what they measure")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (databases, server logs)")
    options = parser.parse_args(argv)
    if options.list:
        for name, section in SECTIONS.items():
            print(f"{name:<11} {(section.__doc__ or '').splitlines()[0]}")
        return 0
    unknown = [name for name in options.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    names = options.sections or DEFAULT
    header = common.machine()
    for line in header:
        common.progress(line)
    work = common.work_dir()
    table = common.Table()
    failed = []
    started = time.perf_counter()
    try:
        for name in names:
            common.progress(f"== {name}")
            try:
                SECTIONS[name](table, work)
            except Exception as exc:
                failed.append(name)
                traceback.print_exc()
                table.add(name, "FAILED", "-", f"{type(exc).__name__}: {exc}"[:300])
    finally:
        if options.keep:
            common.progress(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    for line in header:
        print(line)
    print(f"took {time.perf_counter() - started:.0f} s; wrk: {'yes' if common.has_wrk() else 'no'}")
    print()
    print(table.render())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
