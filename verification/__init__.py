"""Verification of lowprec's rounding against independent oracles.

* :mod:`verification.oracle`: an exact mpmath oracle and a table look-up oracle;
* :mod:`verification.cases`: the case families (every fp16 pattern, midpoints, boundaries, ...);
* :mod:`verification.checks`: comparisons of lowprec with the oracles, as counted records;
* :mod:`verification.suite`: which checks run (``python -m verification [--quick]``).
"""
