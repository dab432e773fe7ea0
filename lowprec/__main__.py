"""Command line: ``python -m lowprec formats`` and ``python -m lowprec demo``."""

from __future__ import annotations

import argparse
import sys

from .cli import demo, formats_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lowprec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("formats", help="table of the built-in formats (like MATLAB's float_params)")
    sub.add_parser("demo", help="a tour: formats, then a sum whose result depends on format and mode")
    args = parser.parse_args(argv)
    if args.command == "formats":
        print(formats_table())
    else:
        demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
