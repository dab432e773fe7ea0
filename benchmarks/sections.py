"""Keep several benchmarks' reports in one benchmarks/RESULTS.md, one marked section each.

    python benchmarks/sections.py NAME FILE -- python benchmarks/bench_torch.py --repeat 5

runs the command, prints its output, and replaces the section ``NAME`` of ``FILE`` with
that output (verbatim, in a code block) headed by the command, date, machine load and git
commit. ``write_section`` is the same operation for scripts that format their own markdown.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path


def markers(name: str):
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def write_section(path: Path, name: str, text: str) -> None:
    """Replace (or append) the section ``name`` of ``path`` with ``text``."""
    begin, end = markers(name)
    body = text if text.startswith(begin) else f"{begin}\n{text.rstrip()}\n{end}\n"
    old = path.read_text() if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        new = head + body.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + body
    path.write_text(new)


def main(argv) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__)
        return 2
    name, path, command = argv[0], Path(argv[1]), argv[3:]
    start = datetime.datetime.now(datetime.timezone.utc)
    run = subprocess.run(command, capture_output=True, text=True)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    if run.returncode:
        return run.returncode
    minutes = (datetime.datetime.now(datetime.timezone.utc) - start).total_seconds() / 60
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    text = (f"## {name}\n\nMade by `{' '.join(command)}` on {start:%Y-%m-%d %H:%M} UTC (git {commit}), "
            f"{minutes:.1f} min, {os.cpu_count()} cores, load average {load:.2f} at the end.\n\n"
            f"```\n{run.stdout.strip()}\n```\n")
    write_section(path, name, text)
    print(f"section {name!r} of {path} written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
