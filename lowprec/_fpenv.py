"""IEEE subnormals on the calling thread, whatever XLA left in its floating-point state.

XLA runs its CPU computations, and the host callbacks of :mod:`lowprec.jax._host`, with
the x86 MXCSR flags flush-to-zero (FTZ) and denormals-are-zero (DAZ) set. NumPy and the
numba kernels called from such a thread would then read subnormal inputs as zero and
flush subnormal results: ``float(np.float32(2**-130) * 1)`` is 0 there. And threads
started from it (numba's worker pools) inherit the flags. :func:`ieee_subnormals`
clears both for the duration of a block and restores them afterwards. On other
architectures it does nothing (their flush flags are not set by XLA's CPU backend in
the cases lowprec has met; see docs/threading.md).
"""

from __future__ import annotations

import contextlib
import platform

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "i386")
_FTZ = 1 << 15
_DAZ = 1 << 6

if _X86:
    import numba as nb
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    def _mxcsr_intrinsic(name: str):
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        return lambda builder: cgutils.get_or_insert_function(builder.module, fnty, name)

    _stmxcsr = _mxcsr_intrinsic("llvm.x86.sse.stmxcsr")
    _ldmxcsr = _mxcsr_intrinsic("llvm.x86.sse.ldmxcsr")

    @intrinsic
    def _read(typingctx):
        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.call(_stmxcsr(builder), [builder.bitcast(slot, ir.IntType(8).as_pointer())])
            return builder.load(slot)
        return types.uint32(), codegen

    @intrinsic
    def _write(typingctx, value):
        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(args[0], slot)
            builder.call(_ldmxcsr(builder), [builder.bitcast(slot, ir.IntType(8).as_pointer())])
            return context.get_dummy_value()
        return types.void(types.uint32), codegen

    @nb.njit(cache=True, nogil=True)
    def get_mxcsr():
        """The calling thread's MXCSR."""
        return _read()

    @nb.njit(cache=True, nogil=True)
    def set_mxcsr(value):
        """Load ``value`` into the calling thread's MXCSR."""
        _write(nb.uint32(value))


@contextlib.contextmanager
def ieee_subnormals():
    """Inside, the calling thread keeps subnormals (FTZ and DAZ cleared); the previous
    flags come back on exit."""
    if not _X86:
        yield
        return
    saved = int(get_mxcsr())
    if saved & (_FTZ | _DAZ):
        set_mxcsr(saved & ~(_FTZ | _DAZ))
    try:
        yield
    finally:
        if saved & (_FTZ | _DAZ):
            set_mxcsr(saved)
