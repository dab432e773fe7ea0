"""Emulated linear algebra: ``lp.linalg.lu_factor``, ``lu_solve``, ``solve``, ``inv``,
``det``, ``cholesky``, ``norm``, ``singular`` (an exact zero pivot) and mixed-precision iterative
refinement (``refine``).

``np.linalg.solve``, ``inv``, ``det``, ``cholesky`` and ``norm`` on an LPFloat dispatch
to the same implementations. See :mod:`lowprec.ndarray._linalg` for where each rounds.
"""

from .ndarray._linalg import cholesky, det, inv, lu_factor, lu_solve, refine, singular, solve
from .ndarray._reductions import norm

__all__ = ["cholesky", "det", "inv", "lu_factor", "lu_solve", "norm", "refine", "singular", "solve"]
