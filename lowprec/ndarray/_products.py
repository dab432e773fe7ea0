"""Emulated products: ``dot``, ``vdot``, ``inner``, ``outer``, ``tensordot``, ``einsum``,
``kron``, ``cross``.

Contractions become (batched) matrix products, so they share the accumulation models
of ``np.matmul`` (:func:`lowprec.ndarray._accumulate.matmul`): under ``"sequential"``
each product is rounded, then each partial sum, with the contracted indices visited in
row-major order of their first appearance.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperationError
from ._functions import dispatched


def _reject_out(name, out):
    if out is not None:
        raise UnsupportedOperationError(f"np.{name} of an LPFloat: out= is not supported; assign the result.")


@dispatched(np.dot)
def dot(a, b, out=None):
    """Emulated dot product. **Rounding:** the accumulation model, as np.matmul; 0-d
    operands: one rounded product each."""
    _reject_out("dot", out)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.multiply(a, b)
    if np.ndim(b) <= 2:
        return np.matmul(a, b)
    return tensordot(a, b, axes=([-1], [-2]))


@dispatched(np.vdot)
def vdot(a, b):
    """Emulated flattened dot product. **Rounding:** as np.dot of the flattened operands."""
    if np.iscomplexobj(a):
        a = np.conjugate(a)
    return np.matmul(np.ravel(a), np.ravel(b))


@dispatched(np.inner)
def inner(a, b):
    """Emulated inner product over the last axes. **Rounding:** as np.matmul."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


@dispatched(np.outer)
def outer(a, b, out=None):
    """Emulated outer product. **Rounding:** each product rounded once."""
    _reject_out("outer", out)
    return np.multiply.outer(np.ravel(a), np.ravel(b))


@dispatched(np.tensordot)
def tensordot(a, b, axes=2):
    """Emulated tensor contraction. **Rounding:** a matrix product under the
    accumulation model, the contracted axes flattened in the order given."""
    a_axes, b_axes = _tensordot_axes(np.ndim(a), np.ndim(b), axes)
    if [np.shape(a)[i] for i in a_axes] != [np.shape(b)[i] for i in b_axes]:
        raise ValueError("shape-mismatch for sum")
    a_free = [i for i in range(np.ndim(a)) if i not in a_axes]
    b_free = [i for i in range(np.ndim(b)) if i not in b_axes]
    k = int(np.prod([np.shape(a)[i] for i in a_axes], dtype=np.int64))
    a2 = np.reshape(np.transpose(a, a_free + a_axes), (-1, k))
    b2 = np.reshape(np.transpose(b, b_axes + b_free), (k, -1))
    shape = tuple(np.shape(a)[i] for i in a_free) + tuple(np.shape(b)[i] for i in b_free)
    return np.reshape(np.matmul(a2, b2), shape)


def _tensordot_axes(na, nb, axes):
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(na - n, na)), list(range(n))
    a_axes, b_axes = axes
    a_axes = [int(i) % na for i in np.atleast_1d(a_axes)]
    b_axes = [int(i) % nb for i in np.atleast_1d(b_axes)]
    if len(a_axes) != len(b_axes):
        raise ValueError("shape-mismatch for sum")
    return a_axes, b_axes


@dispatched(np.einsum)
def einsum(subscripts, *operands, out=None, dtype=None, order="K", casting="safe", optimize=False):
    """Emulated einsum. **Rounding:** two operands: a batched matrix product under the
    accumulation model (contracted indices in row-major order of their appearance in the
    first operand); one operand: its sums under the model; three or more: contracted two
    at a time, each step an emulated two-operand einsum whose result is rounded, left to
    right by default (``optimize=False``), or in the order of ``np.einsum_path`` with
    that ``optimize`` setting."""
    _reject_out("einsum", out)
    if dtype is not None:
        raise UnsupportedOperationError("np.einsum of an LPFloat: dtype= is not supported.")
    inputs, output = _parse(subscripts, operands)
    if len(operands) == 1:
        return _einsum_one(inputs[0], output, operands[0])
    if len(operands) == 2:
        return _einsum_two(inputs, output, operands)
    return _einsum_chain(inputs, output, list(operands), optimize)


def _einsum_chain(inputs, output, operands, optimize):
    """Pairwise contractions; each intermediate keeps the letters still needed later."""
    terms = list(inputs)
    if optimize:
        shapes = [np.broadcast_to(np.float64(0), np.shape(x)) for x in operands]
        steps = np.einsum_path(",".join(terms) + "->" + output, *shapes, optimize=optimize)[0][1:]
        at_end = True
    else:
        steps = [(0, 1)] * (len(terms) - 1)
        at_end = False
    for step in steps:
        i, j = sorted(step)
        rest = "".join(t for k, t in enumerate(terms) if k not in (i, j)) + output
        keep = "".join(dict.fromkeys(c for c in terms[i] + terms[j] if c in rest))
        value = _einsum_two([terms[i], terms[j]], keep, [operands[i], operands[j]])
        for k in (j, i):
            del terms[k], operands[k]
        position = len(terms) if at_end else 0
        terms.insert(position, keep)
        operands.insert(position, value)
    return _einsum_one(terms[0], output, operands[0])


def _parse(subscripts, operands):
    if not isinstance(subscripts, str) or "." in subscripts:
        raise UnsupportedOperationError("np.einsum of an LPFloat: give explicit subscripts without '...'.")
    subscripts = subscripts.replace(" ", "")
    lhs, arrow, output = subscripts.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ValueError("einsum: the number of subscripts does not match the number of operands.")
    for term, op in zip(inputs, operands):
        if len(term) != np.ndim(op):
            raise ValueError(f"einsum: subscripts {term!r} do not match an operand of shape {np.shape(op)}.")
    if not arrow:
        letters = "".join(inputs)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return inputs, output


def _diagonals(term, x):
    """Repeated letters within one operand (``'ii'``): take the diagonal."""
    while len(set(term)) < len(term):
        c = next(c for c in term if term.count(c) > 1)
        i, j = term.index(c), term.index(c, term.index(c) + 1)
        x = np.moveaxis(np.diagonal(x, axis1=i, axis2=j), -1, i)
        term = term[:j] + term[j + 1:]
    return term, x


def _einsum_one(term, output, x):
    term, x = _diagonals(term, x)
    summed = tuple(i for i, c in enumerate(term) if c not in output)
    if summed:
        x = _sum_axes(x, summed)
        term = "".join(c for c in term if c in output)
    return np.transpose(x, [term.index(c) for c in output])


def _sum_axes(x, axes):
    moved = np.moveaxis(x, axes, range(-len(axes), 0))
    flat = np.reshape(moved, moved.shape[:moved.ndim - len(axes)] + (-1,))
    return np.sum(flat, axis=-1)


def _einsum_two(inputs, output, operands):
    (ta, a), (tb, b) = _diagonals(inputs[0], operands[0]), _diagonals(inputs[1], operands[1])
    ta, a = _sum_lonely(ta, a, tb, output)
    tb, b = _sum_lonely(tb, b, ta, output)
    batch = [c for c in ta if c in tb and c in output]
    contracted = [c for c in ta if c in tb and c not in output]
    a_free = [c for c in ta if c not in tb]
    b_free = [c for c in tb if c not in ta]
    size = {c: np.shape(a)[i] for i, c in enumerate(ta)}
    for i, c in enumerate(tb):
        if c in size and size[c] != np.shape(b)[i] and 1 not in (size[c], np.shape(b)[i]):
            raise ValueError(f"einsum: operands disagree on the size of index {c!r}.")
        size[c] = max(size.get(c, 1), np.shape(b)[i])
    a3 = _arrange(a, ta, batch, a_free, contracted, size)
    b3 = _arrange(b, tb, batch, contracted, b_free, size)
    r = np.matmul(a3, b3)
    r = np.reshape(r, tuple(size[c] for c in batch + a_free + b_free))
    have = batch + a_free + b_free
    return np.transpose(r, [have.index(c) for c in output])


def _sum_lonely(term, x, other, output):
    """Letters of one operand that appear nowhere else are summed first."""
    lonely = tuple(i for i, c in enumerate(term) if c not in output and c not in other)
    if not lonely:
        return term, x
    return "".join(c for i, c in enumerate(term) if i not in lonely), _sum_axes(x, lonely)


def _arrange(x, term, batch, rows, cols, size):
    """``x`` as a (batch, rows, cols) array with the letters in those groups."""
    order = [term.index(c) for c in batch + rows + cols]
    x = np.transpose(x, order)
    shape = [size[c] for c in batch] + [_prod(size, rows), _prod(size, cols)]
    x = np.broadcast_to(x, tuple(size[c] for c in batch + rows + cols))
    return np.reshape(x, shape)


def _prod(size, letters):
    return int(np.prod([size[c] for c in letters], dtype=np.int64))


@dispatched(np.kron)
def kron(a, b):
    """Emulated Kronecker product. **Rounding:** each product rounded once."""
    a_plain, b_plain = np.asarray(a), np.asarray(b)
    left = np.kron(a_plain, np.ones_like(b_plain))
    right = np.kron(np.ones_like(a_plain), b_plain)
    return _like(a, left) * _like(b, right)


def _like(template, values):
    from ._base import LPArray
    return type(template)._wrap(values, template.format, template.rmode) if isinstance(template, LPArray) else values


@dispatched(np.cross)
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Emulated cross product of 3-vectors. **Rounding:** each product rounded, then
    each difference."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = np.moveaxis(a, axisa, -1)
    b = np.moveaxis(b, axisb, -1)
    if np.shape(a)[-1] != 3 or np.shape(b)[-1] != 3:
        raise UnsupportedOperationError("np.cross of an LPFloat takes 3-vectors.")
    parts = [a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
             a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
             a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]]
    return np.moveaxis(np.stack(parts, axis=-1), -1, axisc)

