"""LPTensor's op table: every torch function it handles, keyed by the callable, under one
category of the op vocabulary (:mod:`lowprec.ops`).

Names are resolved in ``torch``, ``torch.Tensor``, ``torch.nn.functional`` and
``torch.special`` (a name means the same operation in each), ``torch.linalg`` and
``torch.fft`` only where listed with their prefix. In-place forms (``Tensor.add_``,
``torch.relu_``, ``F.relu_``) are found from their out-of-place twin and filed with it
(:data:`INPLACE`); in-place methods without a twin store values (``fill_``, ``uniform_``:
:data:`~lowprec.ops.STORES`) or only change metadata. New tensors made *from* an LPTensor
(``zeros_like``, ``new_zeros``, ...) are plain: torch's optimizers make their state so, and
an 8-bit format there (``eps`` and ``exp_avg_sq`` rounding to 0) turns every weight into NaN. A function the table does not list
raises :class:`~lowprec.errors.UnsupportedOperationError` when its result holds floats
(``tests/test_torch_table.py`` walks ``torch.overrides.get_overridable_functions()``).
"""

from __future__ import annotations

from typing import Callable, Dict

import torch

from .. import ops
from ._composites import COMPOSITES
from ..ops import (ACCUMULATING, COMPOSITE, CORRECTLY_ROUNDED, MOVES, PLAIN_RESULT, ROUNDED, STORES, UNSUPPORTED,
                   OpTable)

_T = torch.Tensor
_F = torch.nn.functional
_NAMESPACES = (torch, _T, _F, torch.special)

#: Category -> names (whitespace separated), resolved in every namespace of ``_NAMESPACES``.
_NAMES = {
    MOVES: """
        view view_as reshape reshape_as transpose t permute squeeze unsqueeze flatten unflatten ravel
        expand expand_as broadcast_to broadcast_tensors contiguous clone detach to cpu cuda __getitem__
        narrow narrow_copy select split split_with_sizes tensor_split hsplit vsplit dsplit chunk unbind
        unsafe_chunk unsafe_split unsafe_split_with_sizes flip fliplr flipud roll rot90 index_select
        gather take take_along_dim masked_select cat concat concatenate stack hstack vstack dstack
        column_stack row_stack where movedim moveaxis swapaxes swapdims repeat repeat_interleave tile
        abs absolute max min amax amin aminmax maximum minimum fmax fmin sort msort topk median nanmedian
        kthvalue mode cummax cummin relu neg negative positive float double type_as pin_memory tril triu
        diag diagonal diag_embed diagflat unfold atleast_1d atleast_2d atleast_3d adjoint mT mH conj
        resolve_conj resolve_neg unique unique_consecutive embedding max_pool1d max_pool2d max_pool3d
        adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d max_pool1d_with_indices
        max_pool2d_with_indices max_pool3d_with_indices adaptive_max_pool1d_with_indices
        adaptive_max_pool2d_with_indices adaptive_max_pool3d_with_indices pixel_shuffle pixel_unshuffle
        channel_shuffle native_channel_shuffle requires_grad_ detach_ share_memory_ retain_grad squeeze_
        unsqueeze_ transpose_ t_ swapdims_ swapaxes_ as_strided as_strided_ resize_ resize_as_ set_
        record_stream masked_scatter index_put index_copy scatter select_scatter slice_scatter
        diagonal_scatter as_strided_scatter put
    """,
    CORRECTLY_ROUNDED: """
        add subtract sub rsub mul multiply div divide true_divide sqrt __add__ __radd__ __sub__ __rsub__
        __mul__ __rmul__ __truediv__ __rtruediv__
    """,
    ROUNDED: """
        exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan arcsin arccos arctan atan2 arctan2
        sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh sigmoid logit erf erfc erfinv erfcx
        lgamma digamma polygamma mvlgamma i0 i0e i1 i1e sinc rsqrt reciprocal square pow float_power
        __pow__ __rpow__ hypot xlogy xlog1py logaddexp logaddexp2 lerp addcmul addcdiv clamp clip
        clamp_min clamp_max sign sgn copysign floor ceil trunc fix round frac fmod remainder nan_to_num
        heaviside deg2rad rad2deg ldexp expit exp2 gammaln psi multigammaln entr ndtr ndtri log_ndtr
        bessel_j0 bessel_j1 gammainc gammaincc igamma igammac zeta softplus gelu silu elu selu celu
        leaky_relu hardswish hardsigmoid relu6 mish logsigmoid hardtanh softsign tanhshrink softshrink
        hardshrink threshold prelu rrelu glu dropout dropout1d dropout2d dropout3d alpha_dropout
        feature_alpha_dropout pad masked_fill index_fill floor_divide __floordiv__ __rfloordiv__ __mod__
        __rmod__
    """,
    ACCUMULATING: """
        matmul __matmul__ __rmatmul__ mm bmm mv dot vdot inner outer linear conv1d conv2d conv3d sum mean
        nansum addmm addmv baddbmm tensordot cumsum prod cumprod norm var std
    """,
    STORES: """
        __setitem__ copy_ fill_ zero_ uniform_ normal_ bernoulli_ exponential_ random_ geometric_ cauchy_
        log_normal_ fill_diagonal_ index_put_ index_copy_ masked_scatter_ scatter_ put_
    """,
    PLAIN_RESULT: """
        eq ne lt le gt ge equal __eq__ __ne__ __lt__ __le__ __gt__ __ge__ greater greater_equal less
        less_equal not_equal isnan isinf isfinite isposinf isneginf isreal isclose allclose signbit argmax
        argmin argsort argwhere nonzero nonzero_static count_nonzero any all logical_and logical_or
        logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not __and__ __or__ __xor__
        __invert__ __bool__ __nonzero__ __len__ __contains__ __float__ __int__ __index__ __long__
        __complex__ __format__ __repr__ __reduce_ex__ __setstate__ __deepcopy__ __array__ __array_wrap__
        __dlpack__ __dlpack_device__ __reversed__ numel nelement size dim ndimension element_size
        is_floating_point is_complex is_contiguous is_signed is_nonzero is_same_size is_pinned is_shared
        is_set_to is_inference is_conj is_neg is_distributed data_ptr const_data_ptr storage_offset
        storage untyped_storage storage_type get_device dim_order tolist item numpy backward
        register_hook register_post_accumulate_grad_hook long int short char byte bool half bfloat16
        cfloat cdouble chalf histc histogram bincount bucketize searchsorted frexp module_load
        hash_tensor zeros_like ones_like full_like empty_like rand_like randn_like new_zeros new_ones
        new_full new_empty new_empty_strided new_tensor
    """,
    UNSUPPORTED: """
        einsum addbmm bilinear conv_transpose1d conv_transpose2d conv_transpose3d nanmean softmin
        logcumsumexp local_response_norm normalize l1_loss smooth_l1_loss huber_loss
        binary_cross_entropy binary_cross_entropy_with_logits kl_div cosine_similarity pairwise_distance
        cdist pdist scaled_dot_product_attention multi_head_attention_forward lp_pool1d lp_pool2d
        lp_pool3d upsample upsample_bilinear upsample_nearest grid_sample affine_grid addr
        ger kron cross cov corrcoef trace diff quantile nanquantile renorm dist cholesky cholesky_inverse
        cholesky_solve det logdet slogdet inverse pinverse lu lu_solve qr svd matrix_exp matrix_power
        triangular_solve geqrf orgqr ormqr istft stft index_add index_reduce scatter_add scatter_reduce
        nextafter angle sspaddmm smm sparse_mask sum_to_size dequantize int_repr
    """,
}

#: Functions of ``torch.linalg`` and ``torch.fft``: none is emulated yet (issue 15, item 2).
_QUALIFIED_UNSUPPORTED = [getattr(ns, n) for ns in (torch.linalg, torch.fft) for n in dir(ns)
                          if not n.startswith("_") and callable(getattr(ns, n))]


def _resolve(names: str):
    found = []
    for name in names.split():
        for ns in _NAMESPACES:
            f = ns.__dict__.get(name) if ns is _T else getattr(ns, name, None)
            if f is None and ns is _T:
                f = getattr(ns, name, None)
            if f is not None and (callable(f) or isinstance(f, property)):
                found.append(f.__get__ if isinstance(f, property) else f)
    return found


TABLE = OpTable("torch")
TABLE.register(COMPOSITE, COMPOSITES)
for _category, _names in _NAMES.items():
    TABLE.register(_category, _resolve(_names))
TABLE.register(UNSUPPORTED, [f for f in _QUALIFIED_UNSUPPORTED if f not in TABLE])

#: In-place function -> its out-of-place twin (which gives the category).
INPLACE: Dict[Callable, Callable] = {}
for _f in list(TABLE._category):
    _name = getattr(_f, "__name__", "")
    if not _name or _name.endswith("_") or _name.startswith("__"):
        continue
    for _ns in _NAMESPACES:
        if getattr(_ns, _name, None) is not _f:
            continue
        _twin = getattr(_ns, _name + "_", None)
        if callable(_twin) and _twin not in TABLE:
            INPLACE[_twin] = _f
INPLACE.update({_T.__iadd__: _T.__add__, _T.__isub__: _T.__sub__, _T.__imul__: _T.__mul__,
                _T.__itruediv__: _T.__truediv__})

#: Every in-place method of ``torch.Tensor`` (by torch's naming convention), for refusing
#: unlisted ones before they run: they would change their operand.
TENSOR_INPLACE = frozenset(getattr(_T, n) for n in dir(_T)
                           if n.endswith("_") and not n.startswith("_") and callable(getattr(_T, n)))


def category(func: Callable) -> str:
    """The category of a torch function for LPTensor (:mod:`lowprec.ops`); unlisted
    functions are :data:`~lowprec.ops.UNSUPPORTED`."""
    twin = INPLACE.get(func)
    return TABLE.category(twin if twin is not None else func) or UNSUPPORTED


def listed(func: Callable) -> bool:
    return func in TABLE or func in INPLACE


def semantics(func: Callable) -> str:
    """One line: what LPTensor does with ``func`` (see :func:`lowprec.semantics`)."""
    prefix = {torch: "torch.", _F: "torch.nn.functional.", torch.special: "torch.special.",
              torch.linalg: "torch.linalg.", torch.fft: "torch.fft.", _T: "torch.Tensor."}
    members = {ns: ({k: getattr(ns, k, None) for k in dir(ns)} if ns is _T else vars(ns)) for ns in prefix}
    head = next((p + k for ns, p in prefix.items() for k, v in members[ns].items() if v is func),
                "torch." + getattr(func, "__name__", repr(func)))
    line = f"{head}: {ops.describe(func, category(func), '').split(': ', 1)[1]}"
    if func in INPLACE:
        line += "; in place, the stored values rounded into the tensor's format"
    return line
