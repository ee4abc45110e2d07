"""Explicit 16-lane vector operations for the sparse (CSR) kernels, as numba intrinsics.

Why they exist: a sparse row multiplies each non-zero pixel into a short row of
weights (10 outputs for MNIST). numba's auto-vectoriser never keeps such a
short accumulator in vector registers (docs/kernels.md lists what was tried),
so these few operations are written directly in LLVM IR on `<16 x float>`
vectors. Everything around them stays ordinary numba code.

A sparse row is handed over as two small arrays prepared by the caller:
`off[p]`, the flat offset of the p-th non-zero's weight row (column × row
stride), and `fv[p]`, its value as a float. Lanes are 16 consecutive elements
starting at a column `col`; rows of the weight and gradient arrays are padded
to a multiple of 16 columns, so a lane block never runs past a row.

`exp_lanes` uses a polynomial whose range reduction must run as written: call
it only from functions compiled without fastmath's `reassoc`.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

LANES = 16
UNROLL = 4  # independent accumulators in dot_lanes: hides the 4-cycle FMA latency
I32, I64 = ir.IntType(32), ir.IntType(64)


def _prologue(context, builder, sig, args, dtype):
    """Arrays as numba array structs, integers as i64, and the vector helpers for `dtype`."""
    vals = [context.make_array(t)(context, builder, a) if isinstance(t, types.Array)
            else context.cast(builder, a, t, types.int64) for t, a in zip(sig.args, args)]
    ftype = context.get_value_type(dtype)
    vty = ir.VectorType(ftype, LANES)
    name = "llvm.fmuladd.v%df%d" % (LANES, 32 if dtype == types.float32 else 64)
    fmuladd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3), name)
    return vals, vty, context.get_abi_alignment(ftype), lambda a, b, c: builder.call(fmuladd, [a, b, c])


def _lanes_at(builder, arr, offset, vty):
    """Pointer to the 16 elements of `arr`'s buffer starting at flat `offset`."""
    return builder.bitcast(builder.gep(arr.data, [offset]), vty.as_pointer())


def _nonzero(builder, off, fv, p, col, vty):
    """(flat offset of non-zero p's lane block, its value in every lane)."""
    at = builder.add(builder.sext(builder.load(builder.gep(off.data, [p])), I64), col)
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), builder.load(builder.gep(fv.data, [p])),
                               ir.Constant(I32, 0))
    splat = builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), ir.Constant(ir.VectorType(I32, LANES), None))
    return at, splat


@intrinsic
def dot_lanes(typingctx, off, fv, n, w, col, out, out_at):
    """out[out_at:+16] = Σ_{p<n} fv[p] · w.flat[off[p] + col:+16]  (one sparse row times w)."""
    sig = types.void(off, fv, n, w, col, out, out_at)

    def codegen(context, builder, signature, args):
        (off_a, fv_a, n_v, w_a, col_v, out_a, out_at_v), vty, align, fma = _prologue(
            context, builder, signature, args, w.dtype)
        accs = [cgutils.alloca_once_value(builder, ir.Constant(vty, None)) for _ in range(UNROLL)]

        def step(p, acc):
            at, v = _nonzero(builder, off_a, fv_a, p, col_v, vty)
            row = builder.load(_lanes_at(builder, w_a, at, vty), align=align)
            builder.store(fma(v, row, builder.load(acc)), acc)

        whole = builder.sub(n_v, builder.srem(n_v, ir.Constant(I64, UNROLL)))
        with cgutils.for_range_slice(builder, ir.Constant(I64, 0), whole, ir.Constant(I64, UNROLL), I64) as (p, _):
            for u, acc in enumerate(accs):
                step(builder.add(p, ir.Constant(I64, u)), acc)
        with cgutils.for_range_slice(builder, whole, n_v, ir.Constant(I64, 1), I64) as (p, _):
            step(p, accs[0])
        load = builder.load
        total = builder.fadd(builder.fadd(load(accs[0]), load(accs[1])), builder.fadd(load(accs[2]), load(accs[3])))
        builder.store(total, _lanes_at(builder, out_a, out_at_v, vty), align=align)
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def axpy_lanes(typingctx, off, fv, n, g, g_at, dst, col):
    """dst.flat[off[p] + col:+16] += fv[p] · g[g_at:+16] for p < n  (one sparse row's outer product)."""
    sig = types.void(off, fv, n, g, g_at, dst, col)

    def codegen(context, builder, signature, args):
        (off_a, fv_a, n_v, g_a, g_at_v, dst_a, col_v), vty, align, fma = _prologue(
            context, builder, signature, args, dst.dtype)
        gv = builder.load(_lanes_at(builder, g_a, g_at_v, vty), align=align)
        with cgutils.for_range_slice(builder, ir.Constant(I64, 0), n_v, ir.Constant(I64, 1), I64) as (p, _):
            at, v = _nonzero(builder, off_a, fv_a, p, col_v, vty)
            ptr = _lanes_at(builder, dst_a, at, vty)
            builder.store(fma(v, gv, builder.load(ptr, align=align)), ptr, align=align)
        return context.get_dummy_value()
    return sig, codegen


def _exp_f32(builder, vty, x):
    """exp of each float32 lane within about 1 ulp: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split
    in two so n·ln2_hi is exact), Cephes' degree-6 polynomial for e^r, then the result times
    2^n done as two factors, each a normal float even at n = 128. Below -87.34 gives 0, above
    88.72 gives inf, NaN stays NaN."""
    c = lambda v: ir.Constant(vty, [v] * LANES)
    mul, add, sub = builder.fmul, builder.fadd, builder.fsub
    hi, lo = c(88.72283), c(-87.33654)
    over, under = builder.fcmp_ordered(">", x, hi), builder.fcmp_ordered("<", x, lo)
    x = builder.select(over, hi, builder.select(under, lo, x))
    rint = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), "llvm.rint.v%df32" % LANES)
    n = builder.call(rint, [mul(x, c(1.44269504088896341))])
    r = sub(sub(x, mul(n, c(0.693359375))), mul(n, c(-2.12194440e-4)))
    p = c(1.9875691500e-4)
    for coef in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = add(mul(p, r), c(coef))
    y = add(add(mul(mul(p, r), r), r), c(1.0))
    ity = ir.VectorType(I32, LANES)
    pow2 = lambda e: builder.bitcast(builder.shl(builder.add(e, ir.Constant(ity, [127] * LANES)),
                                                 ir.Constant(ity, [23] * LANES)), vty)
    ni = builder.fptosi(n, ity)
    half = builder.ashr(ni, ir.Constant(ity, [1] * LANES))
    y = mul(mul(y, pow2(half)), pow2(builder.sub(ni, half)))
    return builder.select(under, c(0.0), builder.select(over, c(float("inf")), y))


@intrinsic
def exp_lanes(typingctx, x, x_at, out, out_at):
    """out[out_at:+16] = exp(x[x_at:+16]); float64 lanes call libm's exp, float32 lanes run
    the vector polynomial `_exp_f32` (libm's expf, one lane at a time, cost 4.6 ms an epoch)."""
    sig = types.void(x, x_at, out, out_at)

    def codegen(context, builder, signature, args):
        (x_a, x_at_v, out_a, out_at_v), vty, align, _ = _prologue(context, builder, signature, args, x.dtype)
        v = builder.load(_lanes_at(builder, x_a, x_at_v, vty), align=align)
        if x.dtype == types.float32:
            y = _exp_f32(builder, vty, v)
        else:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), "llvm.exp.v%df64" % LANES)
            y = builder.call(fn, [v])
        builder.store(y, _lanes_at(builder, out_a, out_at_v, vty), align=align)
        return context.get_dummy_value()
    return sig, codegen



# With NUMBA_DISABLE_JIT=1 the kernels run as Python, where an intrinsic cannot: the same
# arithmetic in numpy stands in for each.

def _dot_lanes_py(off, fv, n, w, col, out, out_at):
    flat = w.reshape(-1)
    out[out_at:out_at + LANES] = 0
    for p in range(n):
        out[out_at:out_at + LANES] += fv[p] * flat[off[p] + col:off[p] + col + LANES]


def _axpy_lanes_py(off, fv, n, g, g_at, dst, col):
    flat = dst.reshape(-1)
    for p in range(n):
        flat[off[p] + col:off[p] + col + LANES] += fv[p] * g[g_at:g_at + LANES]


def _exp_lanes_py(x, x_at, out, out_at):
    v = x[x_at:x_at + LANES]
    with np.errstate(over="ignore", under="ignore"):
        out[out_at:out_at + LANES] = np.where(v < -87.33654, 0, np.exp(v))  # flushed as _exp_f32 does


if numba.config.DISABLE_JIT:
    dot_lanes, axpy_lanes, exp_lanes = _dot_lanes_py, _axpy_lanes_py, _exp_lanes_py
