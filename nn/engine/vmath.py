"""exp, expm1, sigmoid and tanh that a compiled loop can vectorise.

Why this module exists: inside a Numba loop, ``math.exp`` is a call into the C library, one
value at a time (about 4 ns each here: llvmlite ships without Intel's SVML, the vector maths
library that would let LLVM vectorise it), and the stable sigmoid's ``if v >= 0`` is a branch
that a random sign mispredicts half the time. The recurrent forward loops evaluate five such
functions per hidden unit and step, and measured 50 ns per unit that way. The functions below
are plain arithmetic with no calls and no branches, so LLVM turns a loop over them into SIMD
code (0.4 ns per float32 sigmoid in a loop, measured).

Math (the textbook range reduction)::

    x = k ln2 + r,   k = round(x / ln2),   |r| <= ln2 / 2
    e^x = 2^k e^r = 2^k (1 + q(r)),   q(r) = r + r^2/2! + ... + r^n/n!   (Taylor, truncated)
    expm1(x) = e^x - 1 = 2^k q(r) + (2^k - 1)
    sigmoid(v) = 1 / (1 + e^-v)
    tanh(v) = sign(v) (-u) / (2 + u),   u = expm1(-2|v|)

- ln2 is split in two parts (Cody and Waite): k ln2_hi is exact, so r loses no digits.
- 2^k is built from its bits: the biased exponent k + bias shifted into the exponent field.
- Taylor degree: 13 in float64 (the first omitted term, (ln2/2)^14 / 14!, is 4e-19) and 7 in
  float32 (5e-9): below half an ulp of the result in both.
- expm1 keeps q separate from the leading 1, so tanh has no cancellation near 0, where
  (1 - e^-2a) / (1 + e^-2a) would lose digits (relative error ulp / a).
- x is clamped to the range where 2^k is a normal number: e^x then saturates at e^-708 and
  e^709 (float64) or e^-87 and e^88 (float32) instead of reaching 0 or inf, which changes
  nothing that sigmoid or tanh return but keeps every intermediate finite. NaN is kept: the
  clamps are written so that a comparison with NaN leaves it in place.

Accuracy (tests/nn/test_vmath.py): within 4 ulp of NumPy in float64 and float32, over the
whole clamped range.

Each function works on one scalar and dispatches on its type when the calling loop is
compiled: float32 loops stay in float32, twice as many values per SIMD register. With
``NUMBA_DISABLE_JIT=1`` the plain Python bodies below run (the ``math`` module's functions).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

__all__ = ["exp", "expm1", "sigmoid", "tanh"]


def _clamp(x):
    """x limited to the compiled float64 form's range; NaN passes through."""
    lo, hi = float(_F64["lo"]), float(_F64["hi"])
    x = lo if x < lo else x
    return hi if x > hi else x


def exp(x):
    """e^x of one scalar (compiled: the vectorisable form of this module)."""
    return math.exp(_clamp(x))


def expm1(x):
    """e^x - 1 of one scalar, accurate near 0 (compiled: the vectorisable form)."""
    return math.expm1(_clamp(x))


def sigmoid(x):
    """1 / (1 + e^-x) of one scalar (compiled: the vectorisable form)."""
    e = math.exp(-abs(x))  # the stable form: math.exp raises on overflow
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


def tanh(x):
    """tanh(x) of one scalar (compiled: the vectorisable form)."""
    return math.tanh(x)


@intrinsic
def _float_from_bits(typingctx, bits):
    """Reinterpret an int64 (int32) as the float64 (float32) with the same bits."""
    target = {types.int64: types.float64, types.int32: types.float32}.get(bits)
    if target is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target))

    return target(bits), codegen


def _constants(dtype, degree, lo, hi, ln2_hi, ln2_lo, mantissa_bits, bias, int_type):
    """The constants of one precision, already in that precision (so that float32 arithmetic
    is not promoted to float64 by a float64 literal)."""
    f = dtype.type
    return dict(
        one=f(1.0),
        two=f(2.0),
        lo=f(lo),
        hi=f(hi),
        log2e=f(1.0 / math.log(2.0)),
        ln2_hi=f(ln2_hi),
        ln2_lo=f(ln2_lo),
        # Adding 1.5 * 2^mantissa_bits rounds to an integer in round-to-nearest mode.
        shift=f(1.5 * 2.0**mantissa_bits),
        coefficients=tuple(f(1.0 / math.factorial(n)) for n in range(2, degree + 1)),
        int_type=int_type,
        bias=int_type(bias),
        mantissa_bits=int_type(mantissa_bits),
    )


# ln2_hi has its low bits zero, so k * ln2_hi is exact for every k in range.
_F64 = _constants(
    np.dtype(np.float64), 13, -708.0, 709.0, 6.93147180369123816490e-01,
    1.90821492927058770002e-10, 52, 1023, np.int64,
)  # fmt: skip
_F32 = _constants(
    np.dtype(np.float32), 7, -87.0, 88.0, 0.693359375, -2.12194440e-4, 23, 127, np.int32
)


def _taylor_13(r, c):
    """1/2! + r/3! + ... + r^11/13!, Horner's scheme; c = (1/2!, ..., 1/13!)."""
    p = c[10] + r * c[11]
    p = c[6] + r * (c[7] + r * (c[8] + r * (c[9] + r * p)))
    return c[0] + r * (c[1] + r * (c[2] + r * (c[3] + r * (c[4] + r * (c[5] + r * p)))))


def _taylor_7(r, c):
    """1/2! + r/3! + ... + r^5/7!, Horner's scheme; c = (1/2!, ..., 1/7!)."""
    return c[0] + r * (c[1] + r * (c[2] + r * (c[3] + r * (c[4] + r * c[5]))))


def _make(c, taylor):
    """Compiled exp, expm1, sigmoid and tanh for one precision's constants ``c`` and Taylor
    polynomial (written out: a loop over a tuple of coefficients would not vectorise)."""
    one, two, lo, hi = c["one"], c["two"], c["lo"], c["hi"]
    log2e, ln2_hi, ln2_lo, shift = c["log2e"], c["ln2_hi"], c["ln2_lo"], c["shift"]
    int_type, bias, mantissa_bits = c["int_type"], c["bias"], c["mantissa_bits"]
    coefficients = c["coefficients"]
    taylor = njit(taylor)

    @njit
    def reduce(x):
        """(2^k, q) with e^x = 2^k (1 + q)."""
        x = lo if x < lo else x  # written so that NaN passes through
        x = hi if x > hi else x
        k = (x * log2e + shift) - shift  # round(x / ln2)
        r = (x - k * ln2_hi) - k * ln2_lo
        q = r + r * r * taylor(r, coefficients)  # r + r^2/2! + r^3/3! + ...
        # Numba widens integer arithmetic to int64: cast back so that float32 gets 32 bits.
        scale = _float_from_bits(int_type((int_type(k) + bias) << mantissa_bits))
        return scale, q

    def exp_impl(x):
        scale, q = reduce(x)
        return scale + scale * q

    def expm1_impl(x):
        scale, q = reduce(x)
        return scale * q + (scale - one)

    def sigmoid_impl(x):
        scale, q = reduce(-x)
        return one / (one + (scale + scale * q))

    def tanh_impl(x):
        scale, q = reduce(-two * abs(x))
        u = scale * q + (scale - one)  # expm1(-2|v|), in (-1, 0]
        return math.copysign(-u / (two + u), x)

    return exp_impl, expm1_impl, sigmoid_impl, tanh_impl


_IMPLEMENTATIONS = {
    types.float64: _make(_F64, _taylor_13),
    types.float32: _make(_F32, _taylor_7),
}


def _register(python_function, index):
    @overload(python_function, inline="always")
    def _typed(x):
        implementation = _IMPLEMENTATIONS.get(x)
        return None if implementation is None else implementation[index]


for _index, _function in enumerate((exp, expm1, sigmoid, tanh)):
    _register(_function, _index)
