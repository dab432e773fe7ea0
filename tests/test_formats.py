"""Formats: every built-in against its standard, aliases, parsing, finfo identities."""

import math
import pickle
import subprocess
import sys
from typing import NamedTuple

import numpy as np
import pytest

import lowprec as lp
from lowprec.formats import ALIASES, FLOAT_FORMATS


class Std(NamedTuple):
    name: str
    bits: int
    t: int
    emin: int
    emax: int
    xmax: float
    xmins: float
    inf: bool
    nan: bool


# Parameters as the standards state them (IEEE 754, OCP 8-bit FP and MX, MATLAB chop).
STANDARDS = [
    Std("binary16", 16, 11, -14, 15, 65504.0, 2.0**-24, True, True),
    Std("bfloat16", 16, 8, -126, 127, (2 - 2.0**-7) * 2.0**127, 2.0**-133, True, True),
    Std("tf32", 19, 11, -126, 127, (2 - 2.0**-10) * 2.0**127, 2.0**-136, True, True),
    Std("binary32", 32, 24, -126, 127, float(np.finfo(np.float32).max), 2.0**-149, True, True),
    Std("binary64", 64, 53, -1022, 1023, float(np.finfo(np.float64).max), 2.0**-1074, True, True),
    Std("e4m3", 8, 4, -6, 7, 240.0, 2.0**-9, True, True),
    Std("e5m2", 8, 3, -14, 15, 57344.0, 2.0**-16, True, True),
    Std("e4m3fn", 8, 4, -6, 8, 448.0, 2.0**-9, False, True),
    Std("e4m3fnuz", 8, 4, -7, 7, 240.0, 2.0**-10, False, True),
    Std("e5m2fnuz", 8, 3, -15, 15, 57344.0, 2.0**-17, False, True),
    Std("fp6_e2m3", 6, 4, 0, 2, 7.5, 0.125, False, False),
    Std("fp6_e3m2", 6, 3, -2, 4, 28.0, 0.0625, False, False),
    Std("fp4_e2m1", 4, 2, 0, 2, 6.0, 0.5, False, False),
]


@pytest.mark.parametrize("std", STANDARDS, ids=lambda s: s.name)
def test_builtin_matches_standard(std):
    fmt = lp.format(std.name)
    assert (fmt.bits, fmt.t, fmt.emin, fmt.emax) == (std.bits, std.t, std.emin, std.emax)
    assert fmt.xmax == std.xmax and fmt.xmins == std.xmins
    assert fmt.xmin == 2.0**std.emin
    assert (fmt.has_inf, fmt.has_nan) == (std.inf, std.nan)
    assert fmt.u == 2.0**-std.t and fmt.eps == 2.0 ** (1 - std.t)


def test_every_builtin_is_checked():
    assert {s.name for s in STANDARDS} == set(FLOAT_FORMATS)


@pytest.mark.parametrize("ml_name", ["float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
                                     "float8_e4m3", "bfloat16", "float6_e2m3fn", "float6_e3m2fn",
                                     "float4_e2m1fn"])
def test_agrees_with_ml_dtypes_finfo(ml_name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if not hasattr(ml_dtypes, ml_name):
        pytest.skip(f"ml_dtypes has no {ml_name}")
    info = ml_dtypes.finfo(getattr(ml_dtypes, ml_name))
    ours = lp.finfo(ml_name)
    assert float(info.max) == ours.max
    assert float(info.smallest_normal) == ours.smallest_normal
    assert float(info.smallest_subnormal) == ours.smallest_subnormal
    assert float(info.eps) == ours.eps
    assert info.nmant == ours.nmant and info.nexp == ours.nexp


@pytest.mark.parametrize("alias,name", sorted(ALIASES.items()))
def test_aliases_case_insensitive(alias, name):
    assert lp.format(alias) is FLOAT_FORMATS[name]
    assert lp.format(alias.upper()) is FLOAT_FORMATS[name]


def test_design_aliases_present():
    for spelling, name in [("half", "binary16"), ("fp16", "binary16"), ("h", "binary16"),
                           ("bfloat16", "bfloat16"), ("bf16", "bfloat16"), ("b", "bfloat16"),
                           ("tf32", "tf32"), ("t", "tf32"), ("single", "binary32"), ("s", "binary32"),
                           ("double", "binary64"), ("d", "binary64"), ("q43", "e4m3"), ("q52", "e5m2"),
                           ("E4M3FN", "e4m3fn")]:
        assert lp.format(spelling).name == name


def test_custom_float_is_ieee_style():
    f = lp.format("e3m4")
    assert (f.exp_bits, f.sig_bits, f.bias, f.emax, f.emin) == (3, 4, 3, 3, -2)
    assert f.has_inf and f.xmax == (2 - 2.0**-4) * 8
    assert lp.format("e4m3") == lp.FloatFormat(4, 3)  # chop's q43 is the IEEE-style e4m3


def test_unknown_format_names_close_matches():
    with pytest.raises(ValueError, match="hlaf.*'half'"):
        lp.format("hlaf")
    with pytest.raises(lp.FormatError, match="bfloat16"):
        lp.format("bfloat61")
    with pytest.raises(ValueError):
        lp.format(12)


@pytest.mark.parametrize("kwargs,msg", [
    (dict(exp_bits=0, sig_bits=3), "exp_bits"),
    (dict(exp_bits=4, sig_bits=-1), "sig_bits"),
    (dict(exp_bits=4, sig_bits=3, overflow="clip"), "overflow"),
    (dict(exp_bits=2, sig_bits=1, infs=False, high_nans=0, overflow="nan"), "no NaN"),
    (dict(exp_bits=4, sig_bits=3, infs=False, high_nans=1, overflow="inf"), "no infinities"),
])
def test_invalid_float_format(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        lp.FloatFormat(**kwargs)


def test_overflow_policy_defaults_and_choice():
    assert lp.format("half").overflow == "inf"
    assert lp.format("e4m3fn").overflow == "nan"  # OCP non-saturating, as ml_dtypes
    assert lp.format("fp4_e2m1").overflow == "saturate"
    sat = lp.format("e4m3fn").replace(overflow="saturate")
    assert sat.overflow == "saturate" and sat != lp.format("e4m3fn")
    assert "saturate" in repr(sat)


def test_formats_are_hashable_values():
    a, b = lp.format("half"), lp.FloatFormat(5, 10)
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert lp.format("half").replace(subnormal=False) != a
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(Exception):
        a.sig_bits = 3


def test_repr_shows_format():
    assert repr(lp.format("half")) == "FloatFormat('binary16')"
    assert repr(lp.FloatFormat(3, 4)) == "FloatFormat(3, 4)"
    assert "subnormal=False" in repr(lp.format("bf16").replace(subnormal=False))


@pytest.mark.parametrize("p,xmax", [(1, 2.0**62), (3, 49152.0), (4, 224.0), (5, 15.0)])
def test_p3109_signed_extended(p, xmax):
    f = lp.p3109(8, p)
    assert f.bits == 8 and f.t == p and f.has_inf and f.has_nan and not f.negzero
    assert f.xmax == xmax
    assert f.bias == 2 ** (8 - p - 1)
    assert math.isnan(f.decode(0x80)) and f.decode(0x7F) == math.inf and f.decode(0xFF) == -math.inf
    assert lp.format(f"binary8p{p}") == f


def test_p3109_finite_and_unsigned():
    f = lp.p3109(8, 3, domain="finite")
    assert not f.has_inf and f.decode(0x7F) == f.xmax
    u = lp.p3109(8, 3, signed=False)
    assert u.bits == 8 and not u.signed and math.isnan(u.decode(0xFF)) and u.decode(0xFE) == math.inf
    with pytest.raises(ValueError):
        lp.p3109(8, 8)
    with pytest.raises(ValueError):
        lp.p3109(8, 3, domain="wide")


@pytest.mark.parametrize("name", [n for n, f in FLOAT_FORMATS.items() if f.bits <= 8])
def test_decode_every_code(name):
    """Every code of every 8-bit format decodes; the finite ones are distinct and sorted."""
    f = FLOAT_FORMATS[name]
    values = [f.decode(c) for c in range(2**f.bits)]
    positive = [v for v in values[: 2 ** (f.bits - 1)] if not math.isnan(v)]
    assert positive == sorted(positive) and len(set(positive)) == len(positive)
    assert max(v for v in positive if v != math.inf) == f.xmax
    assert min(v for v in positive if v > 0) == f.xmins
    assert sum(math.isnan(v) for v in values) == 2 * f.high_nans + (0 if f.negzero else 1)


@pytest.mark.parametrize("name", list(FLOAT_FORMATS))
def test_finfo_identities(name):
    """The identities ml_dtypes' finfo tests assert, checked through lp.chop."""
    i = lp.finfo(name)
    f = lp.format(name)
    assert i.nmant + i.nexp + 1 == i.bits
    assert i.eps == 2.0**i.machep
    assert i.tiny == i.smallest_normal == i.xmin
    assert lp.finfo(name) is lp.finfo(f)
    assert lp.chop(i.max, f) == i.max
    assert lp.chop(i.smallest_subnormal / 2, f) == 0.0
    assert lp.chop(i.smallest_subnormal, f) == i.smallest_subnormal
    beyond = lp.chop(i.max * (1 + i.eps), f, "up")
    assert beyond == {"inf": math.inf, "saturate": i.max}.get(f.overflow, beyond) or math.isnan(beyond)
    assert lp.chop(1 + i.eps, f) == 1 + i.eps and lp.chop(1 + i.eps / 4, f) == 1.0


def test_finfo_rejects_fixed_formats():
    with pytest.raises(ValueError, match="float format"):
        lp.finfo("int8")


def test_fixed_and_int_formats():
    q = lp.format("q8.8")
    assert q == lp.format("fixed(8,8)") == lp.FixedFormat(8, 8)
    assert q.resolution == 2.0**-8 and q.max == 128 - 2.0**-8 and q.min == -128
    i = lp.format("int4")
    assert (i.qmin, i.qmax) == (-8, 7)
    u = lp.format("uint8")
    assert (u.qmin, u.qmax) == (0, 255) and not u.signed
    with pytest.raises(ValueError, match="53"):
        lp.FixedFormat(40, 20)
    with pytest.raises(ValueError, match="overflow"):
        lp.IntFormat(8, overflow="clip")


def test_formats_command_prints_table():
    out = subprocess.run([sys.executable, "-m", "lowprec", "formats"], capture_output=True, text=True,
                         check=True).stdout
    for name in FLOAT_FORMATS:
        assert name in out
    assert "65504" in out.replace(",", "") or "6.5504e+04" in out
