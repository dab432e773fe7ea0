"""numba's threading layer for lowprec's parallel kernels: TBB, when it can be loaded.

numba has three layers (docs/threading.md): GNU OpenMP (``omp``) is thread-safe but not
fork-safe (a child forked after a parallel kernel is killed as soon as it runs one, so a
``multiprocessing`` pool or a torch DataLoader hangs or dies); ``workqueue`` is fork-safe
but aborts the process when two Python threads launch kernels at once; ``tbb`` is both.
numba tries them in the order tbb, omp, workqueue, but the ``tbb`` wheel from PyPI puts
``libtbb.so.12`` in ``<prefix>/lib``, outside the dynamic loader's search path, so numba
does not find it and falls back to ``omp``. Loading the library here, by its full path and
before any parallel kernel runs, lets numba's own default choice find TBB.

The user's choice wins: nothing here changes ``NUMBA_THREADING_LAYER``,
``NUMBA_THREADING_LAYER_PRIORITY`` or ``numba.config``; loading the library only makes
``tbb`` available to them.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Optional

#: numba's minimum (numba/np/ufunc/parallel.py: TBB 2021 update 6).
_MIN_INTERFACE_VERSION = 12060

_LIBNAME = {"win32": "tbb12.dll", "darwin": "libtbb.12.dylib"}.get(sys.platform, "libtbb.so.12")

#: Why TBB could not be loaded (None once it is), for :func:`tbb_status`.
_problem: Optional[str] = "not tried"


def _wheel_path() -> Optional[str]:
    """Where the ``tbb`` distribution installed its library, or None."""
    try:
        from importlib.metadata import PackageNotFoundError, files
    except ImportError:  # pragma: no cover - Python < 3.8
        return None
    try:
        for f in files("tbb") or ():
            if f.name == _LIBNAME:
                return str(f.locate())
    except PackageNotFoundError:
        pass
    return None


def load_tbb() -> Optional[str]:
    """Load the TBB runtime so that numba's threading layer ``tbb`` can use it.

    Returns None on success, else why it failed (TBB not installed, too old). Called once
    at ``import lowprec``; cheap (a few ms) and harmless when TBB is already loaded.
    """
    global _problem
    mode = getattr(ctypes, "RTLD_GLOBAL", 0)
    lib = None
    try:  # already on the loader's path (system or conda TBB, LD_LIBRARY_PATH)
        lib = ctypes.CDLL(_LIBNAME, mode=mode)
    except OSError:
        path = _wheel_path()
        if path is None:
            _problem = f"{_LIBNAME} not found (pip install tbb)"
            return _problem
        try:
            lib = ctypes.CDLL(path, mode=mode)
        except OSError as e:
            _problem = f"cannot load {path}: {e}"
            return _problem
    try:
        version = lib.TBB_runtime_interface_version()
    except AttributeError:
        version = 0
    if version < _MIN_INTERFACE_VERSION:
        # numba would warn and fall back itself; say why here too.
        _problem = (f"TBB interface version {version} is older than numba's minimum "
                    f"{_MIN_INTERFACE_VERSION} (pip install 'tbb>=2021.6')")
        return _problem
    _problem = None
    return None


def tbb_status() -> Optional[str]:
    """None when TBB was loaded at import, else the reason it was not."""
    return _problem
