"""Explicit 16-lane vector operations for the sparse (CSR) kernels, as numba intrinsics.

Why they exist: a sparse row multiplies each non-zero pixel into a short row of
weights (10 outputs for MNIST). numba's auto-vectoriser never keeps such a
short accumulator in vector registers (docs/kernels.md lists what was tried),
so these few operations are written directly in LLVM IR on `<16 x float>`
vectors. Everything around them stays ordinary numba code.

They read a CSR row as stored: `indices[p]` (the column, uint16) and
`values[p]` (the pixel, uint8) for p in start..stop. A pixel becomes a float by
a lookup in `table` (256 floats, table[v] = v): a load, where converting the
integer would compete with the broadcast for the same execution port. A lane
block is the 16 elements of a row starting at column `col`; weight and gradient
rows are padded to a multiple of 16 columns, so a block never runs past a row.

`exp_lanes` and `ce_lanes` use a polynomial whose range reduction must run as
written: call them only from functions compiled without fastmath's `reassoc`.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

LANES = 16
UNROLL = 4  # non-zeros per loop pass: independent FMA chains (dot), loads ahead of stores (axpy)
I32, I64 = ir.IntType(32), ir.IntType(64)
EXP_MIN, EXP_MAX = -87.33654, 88.72283  # float32 exp flushes to 0 below, overflows above


class _Gen:
    """IR helpers for one intrinsic call: arguments unpacked (arrays as numba array structs,
    integers as i64) and vector operations on `dtype` lanes."""

    def __init__(self, context, builder, sig, args, dtype):
        self.b = builder
        self.args = [context.make_array(t)(context, builder, a) if isinstance(t, types.Array)
                     else context.cast(builder, a, t, types.int64) if isinstance(t, types.Integer)
                     else context.cast(builder, a, t, dtype) for t, a in zip(sig.args, args)]
        self.ftype = context.get_value_type(dtype)
        self.vty = ir.VectorType(self.ftype, LANES)
        self.align = context.get_abi_alignment(self.ftype)
        self.elem = "f32" if dtype == types.float32 else "f64"

    def intrinsic(self, name, nargs, vty=None):
        """LLVM's `name` on vectors of type `vty` (default: 16 lanes)."""
        vty = vty or self.vty
        fn = cgutils.get_or_insert_function(self.b.module, ir.FunctionType(vty, [vty] * nargs),
                                            f"llvm.{name}.v{vty.count}{self.elem}")
        return lambda *xs: self.b.call(fn, list(xs))

    def const(self, v):
        return ir.Constant(self.vty, [v] * LANES)

    def splat(self, x):
        v = self.b.insert_element(ir.Constant(self.vty, ir.Undefined), x, ir.Constant(I32, 0))
        return self.b.shuffle_vector(v, ir.Constant(self.vty, ir.Undefined),
                                     ir.Constant(ir.VectorType(I32, LANES), None))

    def ptr(self, arr, offset):
        """Pointer to the 16 elements of `arr`'s buffer starting at flat `offset`."""
        return self.b.bitcast(self.b.gep(arr.data, [offset]), self.vty.as_pointer())

    def load(self, arr, offset):
        return self.b.load(self.ptr(arr, offset), align=self.align)

    def store(self, v, arr, offset):
        self.b.store(v, self.ptr(arr, offset), align=self.align)

    def nonzero(self, indices, values, table, p, stride, col):
        """(flat offset of non-zero p's lane block in a row-`stride` array, its value in all lanes)."""
        b = self.b
        at = b.add(b.mul(b.zext(b.load(b.gep(indices.data, [p])), I64), stride), col)
        v = b.load(b.gep(table.data, [b.zext(b.load(b.gep(values.data, [p])), I64)]))
        return at, self.splat(v)

    def reduce(self, v, op):
        """Pairwise reduction of the lanes with `op` (a fixed order: the same bits every run)."""
        b, n = self.b, LANES
        while n > 1:
            n //= 2
            lo = b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, n), list(range(n))))
            hi = b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, n), list(range(n, 2 * n))))
            v = op(lo, hi)
        return b.extract_element(v, ir.Constant(I32, 0))

    def exp(self, x):
        if self.ftype == ir.FloatType():
            return _exp_f32(self, x)
        return self.intrinsic("exp", 1)(x)  # float64: libm's exp, lane by lane


def _row_stride(g: _Gen, arr):
    return cgutils.unpack_tuple(g.b, arr.shape, 2)[1]


def _fmuladd(g: _Gen):
    return g.intrinsic("fmuladd", 3)


@intrinsic
def _dot_lanes_ir(typingctx, indices, values, start, stop, table, w, col, out, out_at):
    """out[out_at:+16] = Σ_p table[values[p]] · w[indices[p], col:+16], p in start..stop
    (one sparse row times a block of w)."""
    sig = types.void(indices, values, start, stop, table, w, col, out, out_at)

    def codegen(context, builder, signature, args):
        g = _Gen(context, builder, signature, args, w.dtype)
        ind, val, lo, hi, tab, w_a, col_v, out_a, out_at_v = g.args
        stride, fma = _row_stride(g, w_a), _fmuladd(g)
        accs = [cgutils.alloca_once_value(builder, g.const(0.0)) for _ in range(UNROLL)]

        def step(p, acc):
            at, v = g.nonzero(ind, val, tab, p, stride, col_v)
            builder.store(fma(v, g.load(w_a, at), builder.load(acc)), acc)

        n = builder.sub(hi, lo)
        whole = builder.add(lo, builder.sub(n, builder.srem(n, ir.Constant(I64, UNROLL))))
        with cgutils.for_range_slice(builder, lo, whole, ir.Constant(I64, UNROLL), I64) as (p, _):
            for u, acc in enumerate(accs):
                step(builder.add(p, ir.Constant(I64, u)), acc)
        with cgutils.for_range_slice(builder, whole, hi, ir.Constant(I64, 1), I64) as (p, _):
            step(p, accs[0])
        s = [builder.load(a) for a in accs]
        g.store(builder.fadd(builder.fadd(s[0], s[1]), builder.fadd(s[2], s[3])), out_a, out_at_v)
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def _axpy_lanes_ir(typingctx, indices, values, start, stop, table, grad, grad_at, dst, col):
    """dst[indices[p], col:+16] += table[values[p]] · grad[grad_at:+16], p in start..stop
    (one sparse row's outer product with a gradient block)."""
    sig = types.void(indices, values, start, stop, table, grad, grad_at, dst, col)

    def codegen(context, builder, signature, args):
        g = _Gen(context, builder, signature, args, dst.dtype)
        ind, val, lo, hi, tab, g_a, g_at, dst_a, col_v = g.args
        stride, fma = _row_stride(g, dst_a), _fmuladd(g)
        gv = g.load(g_a, g_at)

        def steps(ps):
            # a row's columns are distinct, so every load may go ahead of every store
            rows = [g.nonzero(ind, val, tab, p, stride, col_v) for p in ps]
            olds = [g.load(dst_a, at) for at, _ in rows]
            for (at, v), old in zip(rows, olds):
                g.store(fma(v, gv, old), dst_a, at)

        n = builder.sub(hi, lo)
        whole = builder.add(lo, builder.sub(n, builder.srem(n, ir.Constant(I64, UNROLL))))
        with cgutils.for_range_slice(builder, lo, whole, ir.Constant(I64, UNROLL), I64) as (p, _):
            steps([builder.add(p, ir.Constant(I64, u)) for u in range(UNROLL)])
        with cgutils.for_range_slice(builder, whole, hi, ir.Constant(I64, 1), I64) as (p, _):
            steps([p])
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def _ce_lanes_ir(typingctx, z, bias, scale, target, inv_n, grad, db):
    """Cross-entropy of one row of at most 16 classes, from its raw products z[0:16]:
    logits x = scale·z + bias (bias is -inf in the padding lanes, which then drop out),
    m = max x, e = exp(x - m), total = Σ e. Returns (m - x[target], total): the row's loss
    is their first plus log of the second. Writes the gradient g = (e/total - onehot)·inv_n:
    db[0:16] += g and grad[0:16] = scale·g (what the weight gradient needs)."""
    sig = types.UniTuple(z.dtype, 2)(z, bias, scale, target, inv_n, grad, db)

    def codegen(context, builder, signature, args):
        g = _Gen(context, builder, signature, args, z.dtype)
        z_a, b_a, scale_v, t, inv_v, g_a, db_a = g.args
        zero = ir.Constant(I64, 0)
        x = _fmuladd(g)(g.load(z_a, zero), g.splat(scale_v), g.load(b_a, zero))
        m = g.reduce(x, lambda a, b: g.intrinsic("maxnum", 2, a.type)(a, b))
        y = builder.fsub(x, g.splat(m))
        e = g.exp(y)
        total = g.reduce(e, builder.fadd)
        t32 = builder.trunc(t, I32)
        shift = builder.fneg(builder.extract_element(y, t32))
        onehot = builder.insert_element(g.const(0.0), inv_v, t32)
        grad = builder.fsub(builder.fmul(e, g.splat(builder.fdiv(inv_v, total))), onehot)
        g.store(builder.fadd(g.load(db_a, zero), grad), db_a, zero)
        g.store(builder.fmul(grad, g.splat(scale_v)), g_a, zero)
        return context.make_tuple(builder, signature.return_type, [shift, total])
    return sig, codegen


def _exp_f32(g: _Gen, x):
    """exp of each float32 lane within about 1 ulp: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split
    in two so n·ln2_hi is exact), Cephes' degree-6 polynomial for e^r, then the result times
    2^n done as two factors, each a normal float even at n = 128. Below EXP_MIN gives 0,
    above EXP_MAX inf; NaN stays NaN."""
    b, c = g.b, g.const
    mul, add, sub = b.fmul, b.fadd, b.fsub
    over, under = b.fcmp_ordered(">", x, c(EXP_MAX)), b.fcmp_ordered("<", x, c(EXP_MIN))
    x = b.select(over, c(EXP_MAX), b.select(under, c(EXP_MIN), x))
    n = g.intrinsic("rint", 1)(mul(x, c(1.44269504088896341)))
    r = sub(sub(x, mul(n, c(0.693359375))), mul(n, c(-2.12194440e-4)))
    p = c(1.9875691500e-4)
    for coef in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = add(mul(p, r), c(coef))
    y = add(add(mul(mul(p, r), r), r), c(1.0))
    ity = ir.VectorType(I32, LANES)
    pow2 = lambda e: b.bitcast(b.shl(b.add(e, ir.Constant(ity, [127] * LANES)), ir.Constant(ity, [23] * LANES)),
                               g.vty)
    ni = b.fptosi(n, ity)
    half = b.ashr(ni, ir.Constant(ity, [1] * LANES))
    y = mul(mul(y, pow2(half)), pow2(b.sub(ni, half)))
    return b.select(under, c(0.0), b.select(over, c(float("inf")), y))


@intrinsic
def _exp_lanes_ir(typingctx, x, x_at, out, out_at):
    """out[out_at:+16] = exp(x[x_at:+16]), as `ce_lanes` computes it."""
    sig = types.void(x, x_at, out, out_at)

    def codegen(context, builder, signature, args):
        g = _Gen(context, builder, signature, args, x.dtype)
        x_a, x_at_v, out_a, out_at_v = g.args
        g.store(g.exp(g.load(x_a, x_at_v)), out_a, out_at_v)
        return context.get_dummy_value()
    return sig, codegen


# With NUMBA_DISABLE_JIT=1 the kernels run as Python, where an intrinsic cannot: the same
# arithmetic in numpy stands in for each.

def _dot_lanes_py(indices, values, start, stop, table, w, col, out, out_at):
    out[out_at:out_at + LANES] = 0
    for p in range(start, stop):
        out[out_at:out_at + LANES] += table[values[p]] * w[indices[p], col:col + LANES]


def _axpy_lanes_py(indices, values, start, stop, table, grad, grad_at, dst, col):
    for p in range(start, stop):
        dst[indices[p], col:col + LANES] += table[values[p]] * grad[grad_at:grad_at + LANES]


def _exp_lanes_py(x, x_at, out, out_at):
    v = x[x_at:x_at + LANES]
    with np.errstate(over="ignore", under="ignore"):
        out[out_at:out_at + LANES] = np.where(v < EXP_MIN, 0, np.exp(v))


def _ce_lanes_py(z, bias, scale, target, inv_n, grad, db):
    x = scale * z[:LANES] + bias[:LANES]
    y = x - x.max()
    e = np.empty_like(y)
    _exp_lanes_py(y, 0, e, 0)
    total = e.sum()
    g = e * (inv_n / total)
    g[target] -= inv_n
    db[:LANES] += g
    grad[:LANES] = scale * g
    return -y[target], total


_JIT = not numba.config.DISABLE_JIT
dot_lanes = _dot_lanes_ir if _JIT else _dot_lanes_py
axpy_lanes = _axpy_lanes_ir if _JIT else _axpy_lanes_py
ce_lanes = _ce_lanes_ir if _JIT else _ce_lanes_py
exp_lanes = _exp_lanes_ir if _JIT else _exp_lanes_py
