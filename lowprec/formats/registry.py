"""Named formats, their aliases, and the parser behind :func:`lowprec.format`."""

from __future__ import annotations

import re
from typing import Callable, Dict, List, Tuple, Union

from ..errors import FormatError, close_matches
from ._block import BlockFormat, bfp
from ._fixed import FixedFormat, IntFormat
from ._float import FloatFormat

Format = Union[FloatFormat, FixedFormat, IntFormat, BlockFormat]


def _ieee(name: str, exp_bits: int, sig_bits: int) -> FloatFormat:
    return FloatFormat(exp_bits, sig_bits, name=name)


#: IEEE 754 binary16.
binary16 = _ieee("binary16", 5, 10)
#: Google brain float.
bfloat16 = _ieee("bfloat16", 8, 7)
#: NVIDIA TensorFloat-32 (a 19-bit format stored in 32 bits).
tf32 = _ieee("tf32", 8, 10)
#: IEEE 754 binary32.
binary32 = _ieee("binary32", 8, 23)
#: IEEE 754 binary64.
binary64 = _ieee("binary64", 11, 52)
#: IEEE-style fp8 e4m3 as in MATLAB chop ('q43'): emax 7, xmax 240, infinities.
e4m3 = _ieee("e4m3", 4, 3)
#: IEEE-style fp8 e5m2 (identical to the OCP E5M2 encoding): emax 15, xmax 57344.
e5m2 = _ieee("e5m2", 5, 2)
#: OCP 8-bit E4M3: no infinities, NaN only at S.1111.111, emax 8, xmax 448.
e4m3fn = FloatFormat(4, 3, infs=False, high_nans=1, name="e4m3fn")
#: E4M3 with bias 8, no infinities, no -0 (its code is the only NaN): xmax 240.
e4m3fnuz = FloatFormat(4, 3, bias=8, infs=False, high_nans=0, negzero=False, name="e4m3fnuz")
#: E5M2 with bias 16, no infinities, no -0 (its code is the only NaN): xmax 57344.
e5m2fnuz = FloatFormat(5, 2, bias=16, infs=False, high_nans=0, negzero=False, name="e5m2fnuz")
#: OCP MX FP6 E2M3: no infinities or NaN, xmax 7.5.
fp6_e2m3 = FloatFormat(2, 3, infs=False, high_nans=0, name="fp6_e2m3")
#: OCP MX FP6 E3M2: no infinities or NaN, xmax 28.
fp6_e3m2 = FloatFormat(3, 2, infs=False, high_nans=0, name="fp6_e3m2")
#: OCP MX FP4 E2M1: no infinities or NaN, xmax 6.
fp4_e2m1 = FloatFormat(2, 1, infs=False, high_nans=0, name="fp4_e2m1")


def p3109(k: int, p: int, signed: bool = True, domain: str = "extended") -> FloatFormat:
    """An IEEE P3109 binary format of ``k`` bits and precision ``p``.

    Parameters
    ----------
    k : int
        Width in bits (2 to 16).
    p : int
        Precision, hidden bit included: 1 to ``k-1`` when signed, 1 to ``k`` unsigned.
    signed : bool, default True
        Signed formats have one zero and one NaN (the code of -0); unsigned formats
        put their NaN at the all-ones code.
    domain : {"extended", "finite"}, default "extended"
        Extended formats have infinities (the largest codes below the NaN); finite ones
        use those codes for finite values.

    Returns
    -------
    FloatFormat
        Named ``binary{k}p{p}{s|u}{e|f}``, e.g. ``binary8p3se``.

    Notes
    -----
    The exponent field has ``k - p`` bits (signed) or ``k - p + 1`` bits (unsigned)
    and the bias is half its range, ``2**(exp_bits - 1)``. Precision 1 has no
    subnormals.
    """
    if domain not in ("extended", "finite"):
        raise FormatError(f"domain must be 'extended' or 'finite', got {domain!r}.")
    if not 2 <= k <= 16:
        raise FormatError(f"P3109 formats have 2 to 16 bits, got k={k}.")
    top = k - 1 if signed else k
    if not 1 <= p <= top:
        raise FormatError(f"P3109 precision must be in [1, {top}] for k={k}, got p={p}.")
    exp_bits = k - p if signed else k - p + 1
    name = f"binary{k}p{p}{'s' if signed else 'u'}{'e' if domain == 'extended' else 'f'}"
    return FloatFormat(
        exp_bits,
        p - 1,
        bias=2 ** (exp_bits - 1),
        infs=domain == "extended",
        high_nans=0 if signed else 1,
        negzero=False,
        signed=signed,
        name=name,
    )


#: Every built-in float format, keyed by canonical name.
FLOAT_FORMATS: Dict[str, FloatFormat] = {
    f.name: f
    for f in (
        binary16, bfloat16, tf32, binary32, binary64, e4m3, e5m2, e4m3fn, e4m3fnuz,
        e5m2fnuz, fp6_e2m3, fp6_e3m2, fp4_e2m1,
    )
}

#: The OCP MX v1.0 formats (block 32, E8M0 scale, FLOOR rule), keyed by name.
MX_FORMATS: Dict[str, BlockFormat] = {
    name: BlockFormat(elem, 32, name=name)
    for name, elem in (
        ("mxfp8_e4m3", e4m3fn), ("mxfp8_e5m2", e5m2), ("mxfp6_e2m3", fp6_e2m3),
        ("mxfp6_e3m2", fp6_e3m2), ("mxfp4_e2m1", fp4_e2m1), ("mxint8", FixedFormat(2, 6)),
    )
}

#: Aliases (lower case) of the canonical names.
ALIASES: Dict[str, str] = {
    "half": "binary16", "fp16": "binary16", "h": "binary16", "float16": "binary16",
    "bf16": "bfloat16", "b": "bfloat16",
    "t": "tf32",
    "single": "binary32", "fp32": "binary32", "s": "binary32", "float32": "binary32",
    "double": "binary64", "fp64": "binary64", "d": "binary64", "float64": "binary64",
    "q43": "e4m3", "fp8-e4m3": "e4m3", "float8_e4m3": "e4m3",
    "q52": "e5m2", "fp8-e5m2": "e5m2", "float8_e5m2": "e5m2", "ocp_e5m2": "e5m2",
    "float8_e4m3fn": "e4m3fn", "ocp_e4m3": "e4m3fn",
    "float8_e4m3fnuz": "e4m3fnuz", "float8_e5m2fnuz": "e5m2fnuz",
    "float6_e2m3fn": "fp6_e2m3", "float6_e3m2fn": "fp6_e3m2", "float4_e2m1fn": "fp4_e2m1",
}

#: Aliases (lower case) of the MX format names.
MX_ALIASES: Dict[str, str] = {"mxfp8": "mxfp8_e4m3", "mxfp6": "mxfp6_e2m3", "mxfp4": "mxfp4_e2m1"}

_INT_WORDS = {"int": True, "uint": False}


def _parse_custom_float(m: re.Match) -> FloatFormat:
    return FloatFormat(int(m.group(1)), int(m.group(2)))


def _parse_p3109(m: re.Match) -> FloatFormat:
    signed = m.group(3) != "u"
    domain = "finite" if m.group(4) == "f" else "extended"
    return p3109(int(m.group(1)), int(m.group(2)), signed, domain)


def _parse_fixed(m: re.Match) -> FixedFormat:
    return FixedFormat(int(m.group(2)), int(m.group(3)), signed=m.group(1) != "u")


def _parse_bfp(m: re.Match) -> BlockFormat:
    return bfp(int(m.group(1)), int(m.group(2) or 32))


def _parse_int(m: re.Match) -> IntFormat:
    signed = _INT_WORDS[m.group(1)]
    return IntFormat(int(m.group(2)), signed=signed, symmetric=signed)


#: Spelling patterns for parameterised families, tried in order.
PATTERNS: List[Tuple[re.Pattern, Callable[[re.Match], Format]]] = [
    (re.compile(r"e(\d+)m(\d+)"), _parse_custom_float),
    (re.compile(r"binary(\d+)p(\d+)(s|u)?(e|f)?"), _parse_p3109),
    (re.compile(r"p3109\((\d+),\s*(\d+)\)()()"), _parse_p3109),
    (re.compile(r"(u?)fixed\((\d+),\s*(\d+)\)"), _parse_fixed),
    (re.compile(r"(u?)q(\d+)\.(\d+)"), _parse_fixed),
    (re.compile(r"bfp(\d+)(?:_b(\d+))?"), _parse_bfp),
    (re.compile(r"(u?int)(\d+)"), _parse_int),
]

_EXAMPLES = ["e4m3", "e5m2", "e3m4", "binary8p3", "fixed(8,8)", "q8.8", "int8", "uint8", "int4", "bfp8"]


def known_names() -> List[str]:
    """Every fixed spelling that :func:`format` accepts (parameterised families aside)."""
    return sorted(set(FLOAT_FORMATS) | set(MX_FORMATS) | set(ALIASES) | set(MX_ALIASES))


def format(spec: Union[str, Format]) -> Format:  # noqa: A001 - public name fixed by the design
    """Turn any spelling of a format into a format object.

    Parameters
    ----------
    spec : str or FloatFormat or FixedFormat or IntFormat
        A format object (returned as is), a built-in name or alias
        (case-insensitive: ``"half"``, ``"bf16"``, ``"q43"``, ``"e4m3fn"``, ...),
        ``"eXmY"`` for an IEEE-style custom float, ``"binary8p3"`` for P3109,
        ``"fixed(8,8)"``/``"q8.8"`` for fixed point (``"ufixed(8,8)"``/``"uq8.8"``
        unsigned), ``"int8"``/``"uint4"`` for integers, ``"mxfp8_e4m3"``, ``"mxint8"``
        etc. for OCP MX and ``"bfp8"``/``"bfp8_b16"`` for block floating point.

    Returns
    -------
    FloatFormat or FixedFormat or IntFormat

    Raises
    ------
    FormatError
        For an unknown spelling; the message names the close matches.
    """
    if isinstance(spec, (FloatFormat, FixedFormat, IntFormat, BlockFormat)):
        return spec
    if not isinstance(spec, str):
        raise FormatError(
            f"a format is a name such as 'half' or a FloatFormat/FixedFormat/IntFormat, "
            f"got {type(spec).__name__} {spec!r}."
        )
    key = spec.strip().lower()
    key = ALIASES.get(key, MX_ALIASES.get(key, key))
    if key in FLOAT_FORMATS:
        return FLOAT_FORMATS[key]
    if key in MX_FORMATS:
        return MX_FORMATS[key]
    for pattern, build in PATTERNS:
        m = pattern.fullmatch(key)
        if m:
            return build(m)
    raise FormatError(
        f"unknown format {spec!r}.{close_matches(key, known_names() + _EXAMPLES)} "
        f"Built-ins: {', '.join(FLOAT_FORMATS)}; custom: 'eXmY', 'binary8p3', "
        "'fixed(m,n)', 'q8.8', 'int8', 'bfp8'; MX: " + ", ".join(MX_FORMATS) + "."
    )
