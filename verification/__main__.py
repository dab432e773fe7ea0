"""``python -m verification [--quick]``: check lowprec's rounding against the oracles."""

from __future__ import annotations

import argparse
import sys
import time

from .suite import FULL, QUICK, report, run


def main(argv=None) -> int:
    """Run the suite, print the table, and return 0 only if every check passed."""
    parser = argparse.ArgumentParser(prog="python -m verification", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the fast subset run by `make test`")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the random case families")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    results = run(QUICK if args.quick else FULL, args.seed, log)
    print(report(results))
    print(f"{'quick' if args.quick else 'full'} verification in {time.perf_counter() - t0:.1f} s")
    return 0 if results and all(c.ok for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
