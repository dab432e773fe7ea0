"""The nine rounding modes, numbered as in the pychop paper and MATLAB chop."""

from __future__ import annotations

import enum
from typing import Dict, Union

from ..errors import RoundingModeError, close_matches


class RoundingMode(enum.IntEnum):
    """How a real number is mapped onto one of its two neighbours in a format."""

    #: To the nearest value; a tie goes to the one with an even last significand bit.
    NEAREST_EVEN = 1
    #: Toward +infinity (the smallest format value >= x).
    UP = 2
    #: Toward -infinity (the largest format value <= x).
    DOWN = 3
    #: Toward zero (truncation of the significand).
    TOWARD_ZERO = 4
    #: Up with probability (x - lower) / (upper - lower), from the exact residual.
    STOCHASTIC = 5
    #: Up or down with probability 1/2 each; exact values stay.
    STOCHASTIC_UNIFORM = 6
    #: To the nearest value; a tie goes toward zero.
    NEAREST_ZERO = 7
    #: To the nearest value; a tie goes away from zero.
    NEAREST_AWAY = 8
    #: Exact values stay; otherwise the neighbour whose last significand bit is 1.
    ODD = 9

    @property
    def is_stochastic(self) -> bool:
        return self in (RoundingMode.STOCHASTIC, RoundingMode.STOCHASTIC_UNIFORM)

    @property
    def is_nearest(self) -> bool:
        return self in (RoundingMode.NEAREST_EVEN, RoundingMode.NEAREST_ZERO, RoundingMode.NEAREST_AWAY)


#: Every accepted spelling (lower case) of each mode.
MODE_NAMES: Dict[str, RoundingMode] = {
    "nearest_even": RoundingMode.NEAREST_EVEN, "nearest": RoundingMode.NEAREST_EVEN,
    "rne": RoundingMode.NEAREST_EVEN,
    "up": RoundingMode.UP, "ceil": RoundingMode.UP, "ru": RoundingMode.UP,
    "down": RoundingMode.DOWN, "floor": RoundingMode.DOWN, "rd": RoundingMode.DOWN,
    "toward_zero": RoundingMode.TOWARD_ZERO, "zero": RoundingMode.TOWARD_ZERO,
    "rz": RoundingMode.TOWARD_ZERO,
    "stochastic": RoundingMode.STOCHASTIC, "sr": RoundingMode.STOCHASTIC,
    "stochastic_uniform": RoundingMode.STOCHASTIC_UNIFORM,
    "sr_uniform": RoundingMode.STOCHASTIC_UNIFORM,
    "nearest_zero": RoundingMode.NEAREST_ZERO, "rnz": RoundingMode.NEAREST_ZERO,
    "nearest_away": RoundingMode.NEAREST_AWAY, "rna": RoundingMode.NEAREST_AWAY,
    "odd": RoundingMode.ODD, "ro": RoundingMode.ODD,
}

#: The modes that need no random bits.
DETERMINISTIC_MODES = tuple(m for m in RoundingMode if not m.is_stochastic)


def rounding_mode(spec: Union[int, float, str, RoundingMode]) -> RoundingMode:
    """Turn a mode number (1-9) or name into a :class:`RoundingMode`.

    Raises
    ------
    RoundingModeError
        For an unknown name or a number outside 1-9.
    """
    if isinstance(spec, RoundingMode):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in MODE_NAMES:
            return MODE_NAMES[key]
        if key.isdigit():
            return rounding_mode(int(key))
        raise RoundingModeError(
            f"unknown rounding mode {spec!r}.{close_matches(key, MODE_NAMES)} "
            "Use a number 1-9 or one of: " + ", ".join(m.name.lower() for m in RoundingMode) + "."
        )
    if isinstance(spec, bool) or not isinstance(spec, (int, float)) and not hasattr(spec, "__index__"):
        raise RoundingModeError(f"a rounding mode is a number 1-9 or a name, got {spec!r}.")
    number = float(spec)
    if number.is_integer() and 1 <= number <= 9:
        return RoundingMode(int(number))
    raise RoundingModeError(
        f"rounding mode {spec!r} is outside 1-9: 1 nearest_even, 2 up, 3 down, 4 toward_zero, "
        "5 stochastic, 6 stochastic_uniform, 7 nearest_zero, 8 nearest_away, 9 odd."
    )
