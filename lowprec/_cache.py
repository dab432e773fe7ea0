"""numba's on-disk cache for lowprec's kernels when the package directory is read-only.

numba keeps compiled ``cache=True`` kernels in the ``__pycache__`` next to their source,
else in the user's cache directory (``~/.cache/numba``), and raises ``RuntimeError:
cannot cache function ...: no locator available`` at *import* when neither is writable
(a system-wide install and a user without a writable home: a container, a service
account). A cache pre-built there (by root at install time) is then ignored too, since
numba only reads a directory it can also write.

:func:`install` adds one locator, tried after ``NUMBA_CACHE_DIR`` and the in-tree
``__pycache__`` and only for lowprec's own files: it caches into the user cache directory
when that is writable, else into a temporary directory for this process (with one
:class:`~lowprec.LowprecWarning`), and first links the read-only ``__pycache__``'s
entries into it, so that a pre-built cache is used and nothing is compiled again. numba
checks each entry's source hash and CPU as usual, so a stale entry is simply recompiled.

numba's source hash is that of the kernel's own file, but a kernel carries compiled copies
of every ``inline`` or called kernel from other files: after an edit of ``_kernels.py``, a
cached kernel of ``_certificate.py`` would still run the old rounding. So every locator
lowprec's files get stamps them with one hash of *all* of lowprec's kernel sources
(:func:`kernel_stamp`): an edit of any of them recompiles every kernel on its next use.
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import os
import shutil
import tempfile
import warnings
from typing import Optional

_PKG = os.path.dirname(os.path.abspath(__file__))

#: The temporary cache root of this process, created on first need.
_temp_root: Optional[str] = None
#: Cache directories already seeded from the package's ``__pycache__`` in this process.
_seeded: set = set()


#: The hash of lowprec's kernel sources, computed on first need.
_stamp: Optional[str] = None


def kernel_stamp() -> str:
    """One hash of every lowprec source file that defines numba kernels (those that
    mention ``njit`` or ``intrinsic``), by relative path and content."""
    global _stamp
    if _stamp is None:
        h = hashlib.sha256()
        for path in sorted(glob.glob(os.path.join(glob.escape(_PKG), "**", "*.py"), recursive=True)):
            with open(path, "rb") as f:
                text = f.read()
            if b"njit" in text or b"intrinsic" in text:
                h.update(os.path.relpath(path, _PKG).encode() + b"\0" + hashlib.sha256(text).digest())
        _stamp = h.hexdigest()
    return _stamp


def _ours(py_file: str) -> bool:
    return os.path.abspath(py_file).startswith(_PKG + os.sep)


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _make_temp_root(tree_dir: str, user_dir: str) -> str:
    global _temp_root
    if _temp_root is None:
        _temp_root = tempfile.mkdtemp(prefix="lowprec-numba-")
        owner = os.getpid()  # a forked child must not delete its parent's cache
        atexit.register(lambda: os.getpid() == owner and shutil.rmtree(_temp_root, ignore_errors=True))
        from .errors import LowprecWarning
        warnings.warn(
            f"lowprec: numba cannot write its cache next to the package ({tree_dir}) or in the user "
            f"cache ({user_dir}); compiled kernels are kept in {_temp_root} for this process only "
            "(a cache pre-built in the package is used). Set NUMBA_CACHE_DIR to a writable directory "
            "to keep them; see docs/threading.md.", LowprecWarning, stacklevel=2)
    return _temp_root


def _seed(tree: str, dest: str) -> None:
    """Make the entries of the read-only ``tree`` (a ``__pycache__``) visible in ``dest``.

    An index (``.nbi``) and its data files (``.nbc``) are linked (copied where links fail)
    when ``dest`` has no such index or an older one. numba replaces files by renaming, so
    a later save in ``dest`` never writes through a link into ``tree``.
    """
    if dest in _seeded:
        return
    _seeded.add(dest)
    for index in glob.glob(os.path.join(glob.escape(tree), "*.nbi")):
        target = os.path.join(dest, os.path.basename(index))
        try:
            if os.path.exists(target) and os.path.getmtime(target) >= os.path.getmtime(index):
                continue
            base = index[:-len(".nbi")]
            for src in [index] + glob.glob(glob.escape(base) + ".*.nbc"):
                dst = os.path.join(dest, os.path.basename(src))
                if os.path.lexists(dst):
                    os.unlink(dst)
                try:
                    os.symlink(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
        except OSError:
            continue  # an unreadable entry: numba compiles that kernel again


def _locator_class():
    from numba.core import caching
    from numba.misc.appdirs import AppDirs

    class ReadOnlyInstallLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        """lowprec's files, when their ``__pycache__`` is read-only (see the module docstring)."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            sub = self.get_suitable_cache_subpath(py_file)
            tree = os.path.join(os.path.dirname(py_file), "__pycache__")
            user = AppDirs(appname="numba", appauthor=False).user_cache_dir
            root = user if _writable(os.path.join(user, sub)) else _make_temp_root(tree, user)
            self._cache_path = os.path.join(root, sub)
            os.makedirs(self._cache_path, exist_ok=True)
            _seed(tree, self._cache_path)

        def get_cache_path(self):
            return self._cache_path

        def get_source_stamp(self):
            return kernel_stamp()

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _ours(py_file):
                return None
            try:
                return super().from_function(py_func, py_file)
            except OSError:  # not even a temporary directory: numba raises its own error
                return None

    return caching, ReadOnlyInstallLocator


def _stamped(base):
    """``base`` (one of numba's locators) for lowprec's files only, stamped with
    :func:`kernel_stamp`."""

    class Stamped(base):
        def get_source_stamp(self):
            return kernel_stamp()

        @classmethod
        def from_function(cls, py_func, py_file):
            return super().from_function(py_func, py_file) if _ours(py_file) else None

    Stamped.__name__ = Stamped.__qualname__ = "Lowprec" + base.__name__
    return Stamped


def install() -> None:
    """Add the read-only-install locator to numba's list (once; before any kernel is defined)."""
    try:
        caching, locator = _locator_class()
        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in numba 0.61
        classes = impl._locator_classes
        in_tree = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator
    except (ImportError, AttributeError):  # another numba layout: keep numba's own behaviour
        return
    if any(c.__name__ == locator.__name__ for c in classes):
        return
    classes.insert(classes.index(in_tree) + 1 if in_tree in classes else 0, locator)
    for name in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator"):
        base = getattr(caching, name, None) or getattr(caching, "_" + name, None)
        if base in classes:  # stamped, just before numba's own
            classes.insert(classes.index(base), _stamped(base))
