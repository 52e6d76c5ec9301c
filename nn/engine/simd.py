"""SIMD vectors for the register-blocked kernels: load, store, broadcast, fused multiply-add.

Why this module exists: a matrix product or convolution is fast only when its partial sums
stay in the CPU's vector registers for the whole reduction and each value loaded from memory
feeds several multiply-adds. Numba keeps a scalar variable in a register, but a loop over an
array of partial sums reads and writes memory on every step, and LLVM will not promote an
array to registers. Measured on a 16 -> 64-channel 3 x 3 convolution: 25 GFLOP/s per core
that way, 120 GFLOP/s with the vector variables below.

A *vector* here is one SIMD register's worth of consecutive values of one dtype: ``lanes``
values, 64 bytes on a CPU with AVX-512 (16 float32, 8 float64), 32 bytes with AVX, 16 bytes
otherwise. In compiled code it is an LLVM vector value, so a local variable of this type
lives in a register; on a CPU with narrower registers LLVM splits it, and the code is still
correct.

Four operations, on a one-dimensional contiguous array ``a`` and a flat element index ``i``:

    load(a, i)        -> a[i : i + lanes]
    store(a, i, v)    :  a[i : i + lanes] = v
    broadcast(a, i)   -> lanes copies of a[i]
    fma(x, y, acc)    -> x * y + acc, lane by lane, with one rounding (fused multiply-add)

They do **no bounds checks** in compiled code: the calling kernel proves its indices (and its
tests run it under ``NUMBA_DISABLE_JIT=1``, where the plain NumPy bodies below check every
slice). The fused multiply-add rounds once where ``x * y + acc`` rounds twice, a difference
far below the twin tests' tolerance.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, overload, register_model

__all__ = ["lanes", "load", "store", "broadcast", "fma"]


def _register_bytes() -> int:
    """Bytes in one vector register of this CPU, as LLVM sees it (64, 32 or 16)."""
    try:
        import llvmlite.binding as llvm

        features = llvm.get_host_cpu_features().flatten()
    except Exception:  # no feature query on this platform: the narrowest common width
        return 16
    if "+avx512f" in features:
        return 64
    return 32 if "+avx" in features else 16


REGISTER_BYTES = _register_bytes()


def lanes(dtype) -> int:
    """Values of ``dtype`` in one vector: 16 float32 or 8 float64 with AVX-512."""
    return REGISTER_BYTES // np.dtype(dtype).itemsize


# ---- the plain NumPy bodies: what each operation means, run under NUMBA_DISABLE_JIT ----


def load(a, i):
    """a[i : i + lanes] as a vector (a copy)."""
    v = a[i : i + lanes(a.dtype)].copy()
    if len(v) != lanes(a.dtype):
        raise IndexError(f"simd.load: {i} + {lanes(a.dtype)} is past the end ({len(a)})")
    return v


def store(a, i, v):
    """a[i : i + lanes] = v."""
    if i + len(v) > len(a):
        raise IndexError(f"simd.store: {i} + {len(v)} is past the end ({len(a)})")
    a[i : i + len(v)] = v


def broadcast(a, i):
    """A vector holding ``lanes`` copies of a[i]."""
    return np.full(lanes(a.dtype), a[i], dtype=a.dtype)


def fma(x, y, acc):
    """x * y + acc, lane by lane."""
    return x * y + acc


# ---- the compiled forms ----


class Vector(types.Type):
    """Numba type of one SIMD register of ``dtype`` values."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.lanes = lanes(str(dtype))
        super().__init__(name=f"Vector({dtype} x {self.lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _element_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.gep(data, [index])


def _is_flat_float_array(a):
    return isinstance(a, types.Array) and a.ndim == 1 and a.dtype in (types.float32, types.float64)


@intrinsic
def _load(typingctx, a, i):
    if not (_is_flat_float_array(a) and isinstance(i, types.Integer)):
        return None
    vector = Vector(a.dtype)

    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], *args)
        vector_pointer = builder.bitcast(pointer, context.get_value_type(vector).as_pointer())
        return builder.load(vector_pointer, align=a.dtype.bitwidth // 8)

    return vector(a, i), codegen


@intrinsic
def _store(typingctx, a, i, v):
    if not (_is_flat_float_array(a) and isinstance(v, Vector) and v.dtype == a.dtype):
        return None

    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        vector_pointer = builder.bitcast(pointer, args[2].type.as_pointer())
        builder.store(args[2], vector_pointer, align=a.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(a, i, v), codegen


@intrinsic
def _broadcast(typingctx, a, i):
    if not (_is_flat_float_array(a) and isinstance(i, types.Integer)):
        return None
    vector = Vector(a.dtype)

    def codegen(context, builder, sig, args):
        value = builder.load(_element_pointer(context, builder, sig.args[0], *args))
        vector_type = context.get_value_type(vector)
        undefined = ir.Constant(vector_type, ir.Undefined)
        first = builder.insert_element(undefined, value, ir.Constant(ir.IntType(32), 0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), [0] * vector.lanes)
        return builder.shuffle_vector(first, undefined, zeros)

    return vector(a, i), codegen


@intrinsic
def _fma(typingctx, x, y, acc):
    if not (isinstance(x, Vector) and x == y == acc):
        return None

    def codegen(context, builder, sig, args):
        vector_type = args[0].type
        name = f"llvm.fma.v{vector_type.count}{vector_type.element.intrinsic_name}"  # .v16f32
        signature = ir.FunctionType(vector_type, [vector_type] * 3)
        return builder.call(cgutils.get_or_insert_function(builder.module, signature, name), args)

    return x(x, y, acc), codegen


@overload(load, inline="always")
def _load_overload(a, i):
    return lambda a, i: _load(a, i)


@overload(store, inline="always")
def _store_overload(a, i, v):
    return lambda a, i, v: _store(a, i, v)


@overload(broadcast, inline="always")
def _broadcast_overload(a, i):
    return lambda a, i: _broadcast(a, i)


@overload(fma, inline="always")
def _fma_overload(x, y, acc):
    return lambda x, y, acc: _fma(x, y, acc)
