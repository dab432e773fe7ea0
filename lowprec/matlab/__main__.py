"""``python -m lowprec.matlab``: where the MATLAB files are, and how to set MATLAB up."""

from __future__ import annotations

import sys

from . import mfiles_dir


def main() -> None:
    folder = mfiles_dir()
    print(f"""lowprec's MATLAB files (lpchop.m, lpchop_setup.m) are in
    {folder}

In MATLAB (a fresh session), run once:
    addpath('{folder}')
    lpchop_setup('{sys.executable}', '', true)   % pyenv + path, saved for later sessions

then use lpchop as chop:
    opts.format = 'h'; opts.round = 1;
    c = lpchop(pi, opts)""")


if __name__ == "__main__":
    main()
