"""Weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008; Dieleman thesis §4.4,
Eq. 4.1–4.3) by alternating least squares, without ever forming the dense users × items matrix.

    p_ui = [r_ui > 0],   c_ui = 1 + α log(1 + r_ui / ε) = 1 + s_ui,
    min_{X,Y}  Σ_{u,i} c_ui (p_ui − x_uᵀ y_i)²  +  λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)

The sum runs over all pairs, zeros included, but only the "surplus confidence" S = C − 1 is sparse, so it is
the only thing stored (as in benanne/wmf). With I_u the items of user u and s_u their surplus confidences,

    x_u = (YᵀY + Y_Iᵀ diag(s_u) Y_I + λI)⁻¹ Y_Iᵀ (1 + s_u)                                      (user step)

and the item step is the same with the roles swapped. YᵀY is shared by every user; the rest touches only the
user's own items. Users are bucketed by support size; inside a bucket every support set is padded to the bucket
length with the index of an extra all-zero factor row, so padding contributes nothing to either term and needs
no mask. The bucket lengths (at most `max_buckets`, each one compiled shape) are chosen by dynamic programming
to minimise the padded total. Each bucket is processed in chunks of about `chunk_nnz` padded entries (so the
gathered (rows, L, factors) block stays small) with the chunk's user axis on a 1-D `jax.sharding.Mesh` of all
devices: the same code runs on one CPU and on many accelerators, and XLA gathers the solved rows back.

Two solvers per row:
  * ``"exact"``: build the factors × factors system and solve it by Cholesky (benanne/wmf's solve);
  * ``"cg"``: a few conjugate-gradient steps warm-started from the current factors, with the matrix applied as
    (YᵀY + λI) v + Y_Iᵀ (s_u ⊙ Y_I v) and never built (Takács et al. 2011, as in `implicit`'s CG solver).
Both decrease the objective at every half-step (CG minimises the quadratic over a growing Krylov space).

The objective is also evaluated sparsely: Σ_all (x_uᵀy_i)² = Σ (XᵀX ⊙ YᵀY) (the trace of their product), and
each nonzero adds (1 + s_ui)(1 − z_ui)² − z_ui² with z_ui = x_uᵀy_i.

Defaults. benanne/wmf's ``factorize`` has ``lambda_reg=1e-5``, ``num_iterations=20``, ``init_std=0.01`` (item
factors ~ N(0, 0.01²), users solved first); its demo uses ``alpha=2.0, epsilon=1e-6``. Those are the defaults
here. They are code/demo values: the thesis gives no α, ε, λ, iteration count or initialisation. ``num_factors``
defaults to 50, the thesis's subset setting (400 on the full set, §4.6.2). The CG solver's 3 steps are
`implicit`'s default ``cg_steps``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from mirjax.errors import UserError

__all__ = ["Interactions", "WMFResult", "as_interactions", "surplus_confidence", "factorize", "fit_wmf",
           "wmf_objective", "solve_rows"]

_AXIS = "rows"


class Interactions(NamedTuple):
    """A sparse users × items matrix in COO form, sorted by (row, col), duplicates summed. For WMF the values
    are the surplus confidences s_ui = c_ui − 1 (≥ 0); every stored entry has preference 1, also where s = 0."""
    rows: np.ndarray  # (nnz,) int32
    cols: np.ndarray  # (nnz,) int32
    values: np.ndarray  # (nnz,) float32
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.rows.shape[0])

    def transpose(self) -> Interactions:
        order = np.lexsort((self.rows, self.cols))
        return Interactions(self.cols[order], self.rows[order], self.values[order], (self.shape[1], self.shape[0]))


def as_interactions(data: Any, shape: tuple[int, int] | None = None, name: str = "counts",
                    drop_zeros: bool = True) -> Interactions:
    """scipy.sparse matrix, or a (rows, cols, values) triple with `shape` → validated, sorted `Interactions`.
    Duplicate (row, col) entries are summed. With `drop_zeros` stored zeros are dropped (a zero play count is no
    interaction); surplus confidences keep them (s = 0 still means preference 1). Raises one ValueError for
    negative or non-finite values, mismatched lengths or indices outside `shape`."""
    if hasattr(data, "tocoo"):
        coo = data.tocoo()
        if shape is not None and tuple(shape) != tuple(coo.shape):
            raise UserError(f"bad {name}: shape {tuple(shape)} expected, the sparse matrix has {tuple(coo.shape)}")
        rows, cols, values, shape = coo.row, coo.col, coo.data, coo.shape
    else:
        try:
            rows, cols, values = data
        except (TypeError, ValueError):
            raise UserError(f"bad {name}: need a scipy.sparse matrix or a (rows, cols, values) triple") from None
        if shape is None:
            raise UserError(f"bad {name}: a (rows, cols, values) triple needs shape=(num_rows, num_cols)")
    rows, cols, values = np.asarray(rows), np.asarray(cols), np.asarray(values, np.float64)
    shape = (int(shape[0]), int(shape[1]))
    problems = []
    if not (rows.ndim == cols.ndim == values.ndim == 1 and rows.shape == cols.shape == values.shape):
        problems.append(f"rows {rows.shape}, cols {cols.shape} and values {values.shape} must be 1-D of one length")
    else:
        if rows.size and not (np.issubdtype(rows.dtype, np.integer) and np.issubdtype(cols.dtype, np.integer)):
            problems.append("rows and cols must be integer indices")
        elif rows.size and (rows.min() < 0 or cols.min() < 0 or rows.max() >= shape[0] or cols.max() >= shape[1]):
            problems.append(f"indices outside shape {shape}")
        if not np.all(np.isfinite(values)):
            problems.append("values must be finite")
        elif np.any(values < 0):
            problems.append(f"values must be ≥ 0 (found {int(np.sum(values < 0))} negative)")
    if min(shape) < 1:
        problems.append(f"shape {shape} must have at least one row and one column")
    if problems:
        raise UserError(f"bad {name}: " + "; ".join(problems))
    if drop_zeros:
        keep = values > 0
        rows, cols, values = rows[keep], cols[keep], values[keep]
    key = rows.astype(np.int64) * shape[1] + cols.astype(np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)  # sorted by (row, col)
    summed = np.bincount(inverse.ravel(), weights=values, minlength=uniq.size)
    return Interactions((uniq // shape[1]).astype(np.int32), (uniq % shape[1]).astype(np.int32),
                        summed.astype(np.float32), shape)


def surplus_confidence(counts: Any, alpha: float = 2.0, epsilon: float = 1e-6,
                       shape: tuple[int, int] | None = None) -> Interactions:
    """Play counts r → surplus confidence s = c − 1 = α log(1 + r/ε) on the nonzeros (Eq. 4.2). Computed in
    float64 before the cast, since r/ε is ~1e6 with the demo ε."""
    if alpha < 0 or epsilon <= 0:
        raise UserError(f"need alpha ≥ 0 and epsilon > 0, got alpha={alpha}, epsilon={epsilon}")
    it = as_interactions(counts, shape)
    r = it.values.astype(np.float64)
    return it._replace(values=(alpha * np.log1p(r / epsilon)).astype(np.float32))


# ---------------------------------------------------------------------------------------------------- buckets


@dataclasses.dataclass(frozen=True)
class _Side:
    """Padded support sets of every row of one side (users for the user step), ready for the device.
    buckets[b] = (ids (chunks, chunk_rows) int32, cols (chunks, chunk_rows, L) int32, s (chunks, chunk_rows, L)
    float32): the rows in the bucket, their support sets and surplus confidences. Padding rows have id num_rows,
    padding entries point at the zero row num_other of the other side's extended factors. Solved rows come out
    concatenated in bucket order plus one final zero row (for rows with no support); `position[r]` is row r's
    place in that order."""
    buckets: tuple[tuple[jax.Array, jax.Array, jax.Array], ...]
    position: jax.Array  # (num_rows,) int32


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _bucket_lengths(support: np.ndarray, max_buckets: int, quantum: int = 8) -> np.ndarray:
    """At most `max_buckets` padded lengths (multiples of `quantum`, ascending, the last ≥ max(support)) that
    minimise the total padded size Σ_rows L(row) over the nonzero `support` sizes: dynamic programming over the
    distinct (quantised) sizes, O(max_buckets · D²) for D distinct sizes (≤ a few hundred: sizes above 256 are
    first rounded up on a 2 % geometric ladder, which costs at most 2 % padding)."""
    sizes = -(-support[support > 0] // quantum) * quantum
    big = sizes > 256
    if big.any():  # coarsen the long tail so that D stays small
        ladder = 256 * 1.02 ** np.arange(int(np.log(sizes.max() / 256) / np.log(1.02)) + 2)
        ladder = np.unique(-(-ladder.astype(np.int64) // quantum) * quantum)
        sizes[big] = ladder[np.searchsorted(ladder, sizes[big])]
    cand, count = np.unique(sizes, return_counts=True)  # the optimal lengths are among these
    d = cand.size
    rows_before = np.concatenate([[0], np.cumsum(count)])  # rows with size < cand[j] = rows_before[j]
    # cost[i, j]: rows with sizes cand[i..j] all padded to cand[j]
    cost = np.where(np.arange(d)[:, None] <= np.arange(d)[None, :],
                    cand[None, :] * (rows_before[None, 1:] - rows_before[:-1, None]), np.inf)
    best = cost[0].copy()  # best[j]: sizes cand[0..j] in one bucket
    choice = [np.zeros(d, np.int64)]
    for _ in range(1, min(max_buckets, d)):
        # last bucket is cand[i..j], the earlier ones cover cand[0..i-1] optimally: best[i-1] + cost[i, j]
        total = np.concatenate([cost[:1], best[:-1, None] + cost[1:]])  # (i, j)
        choice.append(np.argmin(total, axis=0))
        best = total[choice[-1], np.arange(d)]
    lengths, j = [], d - 1
    for c in reversed(choice):  # backtrack from the last size
        lengths.append(int(cand[j]))
        i = int(c[j])
        if i == 0:
            break
        j = i - 1
    return np.asarray(sorted(lengths), np.int64)


def _build_side(it: Interactions, max_buckets: int, chunk_nnz: int, mesh: Mesh) -> _Side:
    num_rows, num_other = it.shape
    support = np.bincount(it.rows, minlength=num_rows)
    start = np.concatenate([[0], np.cumsum(support)])
    devices = mesh.devices.size
    sharding = NamedSharding(mesh, P(None, mesh.axis_names[0]))  # the chunk's rows across the devices
    lengths = _bucket_lengths(support, max_buckets) if it.nnz else np.zeros(0, np.int64)
    which = np.searchsorted(lengths, support)  # smallest bucket length ≥ support
    pos_in_row = np.arange(it.nnz) - start[it.rows]
    position = np.zeros(num_rows, np.int64)
    buckets, offset = [], 0
    for b, length in enumerate(lengths):
        members = np.flatnonzero((which == b) & (support > 0))
        if members.size == 0:
            continue
        # About chunk_nnz padded entries per chunk, rows split evenly over the chunks, a multiple of the devices.
        chunks = _ceil_div(members.size, max(1, chunk_nnz // int(length)))
        chunk_rows = _ceil_div(_ceil_div(members.size, chunks), devices) * devices
        padded = chunks * chunk_rows
        local = np.full(num_rows, -1, np.int64)
        local[members] = np.arange(members.size)
        sel = local[it.rows] >= 0
        cols = np.full((padded, length), num_other, np.int32)
        s = np.zeros((padded, length), np.float32)
        cols[local[it.rows[sel]], pos_in_row[sel]] = it.cols[sel]
        s[local[it.rows[sel]], pos_in_row[sel]] = it.values[sel]
        ids = np.full(padded, num_rows, np.int32)
        ids[:members.size] = members
        shape3 = (padded // chunk_rows, chunk_rows, int(length))
        buckets.append(tuple(jax.device_put(a, sharding) for a in (ids.reshape(shape3[:2]), cols.reshape(shape3),
                                                                   s.reshape(shape3))))
        position[members] = offset + np.arange(members.size)
        offset += padded
    position[support == 0] = offset  # the zero row appended after the last bucket
    return _Side(tuple(buckets), jnp.asarray(position, jnp.int32))


# ------------------------------------------------------------------------------------------------------ solves


def _cholesky_solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """Batched SPD solve a x = b: (B, f, f), (B, f) → (B, f)."""
    chol = jnp.linalg.cholesky(a)
    y = lax.linalg.triangular_solve(chol, b[..., None], left_side=True, lower=True)
    return lax.linalg.triangular_solve(chol, y, left_side=True, lower=True, transpose_a=True)[..., 0]


def _solve_chunk(other_ext: jax.Array, gram: jax.Array, cols: jax.Array, s: jax.Array, x0: jax.Array | None,
                 solver: str, cg_steps: int) -> jax.Array:
    """Solve the rows of one chunk. other_ext (n_other + 1, f) with a zero last row; gram = OᵀO + λI (f, f);
    cols, s (B, L); x0 (B, f) the warm start for CG."""
    yg = other_ext[cols]  # (B, L, f); padding rows are zero
    if solver == "exact":
        a = gram + jnp.einsum("blf,blg->bfg", yg * s[..., None], yg)
        b = jnp.einsum("blf,bl->bf", yg, 1.0 + s)
        return _cholesky_solve(a, b)

    def apply(v):  # (gram + Y_Iᵀ diag(s) Y_I) v without building the matrix
        return v @ gram + jnp.sum(yg * (s * jnp.sum(yg * v[:, None, :], -1))[..., None], axis=1)

    x = x0
    # r = b − A x = Y_Iᵀ((1 + s) − s ⊙ Y_I x) − gram x, fused into one pass over yg.
    r = jnp.sum(yg * ((1.0 + s) - s * jnp.sum(yg * x[:, None, :], -1))[..., None], axis=1) - x @ gram
    p, rs = r, jnp.sum(r * r, -1)
    tiny = jnp.finfo(r.dtype).tiny
    for _ in range(cg_steps):  # unrolled: cg_steps is small and static
        ap = apply(p)
        pap = jnp.sum(p * ap, -1)
        step = jnp.where(pap > tiny, rs / jnp.where(pap > tiny, pap, 1.0), 0.0)
        x = x + step[:, None] * p
        r = r - step[:, None] * ap
        rs_new = jnp.sum(r * r, -1)
        beta = jnp.where(rs > tiny, rs_new / jnp.where(rs > tiny, rs, 1.0), 0.0)
        p = r + beta[:, None] * p
        rs = rs_new
    return x


def _solve_side(current: jax.Array, other: jax.Array, side: _Side, lambda_reg: float, solver: str,
                cg_steps: int, serial: bool) -> jax.Array:
    """All rows of one side given the other side's factors (the half-step). current (n, f) is the CG warm start."""
    f = other.shape[1]
    other_ext = jnp.concatenate([other, jnp.zeros((1, f), other.dtype)])
    gram = other.T @ other + lambda_reg * jnp.eye(f, dtype=other.dtype)
    current_ext = jnp.concatenate([current, jnp.zeros((1, f), current.dtype)])
    # With `serial` (the exact solver on CPU) the chunks are chained by a real, numerically void data dependency.
    # jaxlib's LAPACK kernels park a worker of XLA's intra-op pool while their batch runs on the pool, and the
    # thunk runtime would start independent chunks together (after unrolling a short scan, or across buckets),
    # which deadlocks once every worker is parked (seen with jax 0.10 on 2 cores). An optimization barrier is not
    # enough: XLA drops it before building the thunk graph, which follows buffers only.
    solved, token = [], jnp.zeros((), other.dtype)
    for ids, cols, s in side.buckets:
        def chunk(token, args):
            i, c, sv = args
            x0 = current_ext[i] if solver == "cg" else None  # CG warm start: the rows' current factors
            x = _solve_chunk(other_ext, gram + token, c, sv, x0, solver, cg_steps)
            if serial:  # 0 · (finite scalar of x): exactly zero, but the next chunk now waits for this one
                total = jnp.sum(x)
                token = 0.0 * jnp.where(jnp.isfinite(total), total, 0.0)
            return token, x

        token, out = lax.scan(chunk, token, (ids, cols, s))
        solved.append(out.reshape(-1, f))
    solved.append(jnp.zeros((1, f), other.dtype))  # rows with no support solve to exactly zero (b = 0)
    return jnp.concatenate(solved)[side.position]


def solve_rows(other: jax.Array, support: Interactions, lambda_reg: float = 1e-5, solver: str = "exact",
               current: jax.Array | None = None, cg_steps: int = 3, chunk_nnz: int = 16384,
               max_buckets: int = 8, mesh: Mesh | None = None) -> jax.Array:
    """One half-step on its own: the (rows, f) factors minimising the objective given `other` (cols, f), where
    `support` holds the surplus confidences of the rows (rows × cols). Used by the item step (pass the
    transpose) and by anyone who wants to fold in new users against fixed item factors."""
    mesh = _mesh_for(solver, mesh)
    side = _build_side(support, max_buckets, chunk_nnz, mesh)
    other = jnp.asarray(other, jnp.float32)
    if current is None:
        current = jnp.zeros((support.shape[0], other.shape[1]), jnp.float32)
    return _solve_side_jit(jnp.asarray(current, jnp.float32), other, side.buckets, side.position,
                           jnp.float32(lambda_reg), solver, cg_steps, _serial(solver, mesh))


@functools.partial(jax.jit, static_argnames=("solver", "cg_steps", "serial"))
def _solve_side_jit(current, other, buckets, position, lambda_reg, solver, cg_steps, serial):
    return _solve_side(current, other, _Side(buckets, position), lambda_reg, solver, cg_steps, serial)


# --------------------------------------------------------------------------------------------------- objective


def _padded_coo(it: Interactions, chunk: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(chunks, chunk) rows, cols, s; padding points at the zero rows (index num_users / num_items) and has
    s = −1, so its term (1 + s)(1 − 0)² − 0² is exactly zero."""
    size = max(1, min(chunk, it.nnz))
    pad = (-it.nnz) % size
    rows = np.concatenate([it.rows, np.full(pad, it.shape[0], np.int32)]).reshape(-1, size)
    cols = np.concatenate([it.cols, np.full(pad, it.shape[1], np.int32)]).reshape(-1, size)
    s = np.concatenate([it.values, np.full(pad, -1.0, np.float32)]).reshape(-1, size)
    return jnp.asarray(rows), jnp.asarray(cols), jnp.asarray(s)


def _objective(x: jax.Array, y: jax.Array, rows: jax.Array, cols: jax.Array, s: jax.Array,
               lambda_reg: jax.Array) -> jax.Array:
    f = x.shape[1]
    x_ext = jnp.concatenate([x, jnp.zeros((1, f), x.dtype)])
    y_ext = jnp.concatenate([y, jnp.zeros((1, f), y.dtype)])

    def chunk_sum(args):  # per-chunk partial sums keep float32 accumulation short
        r, c, sv = args
        z = jnp.sum(x_ext[r] * y_ext[c], -1)
        return jnp.sum((1.0 + sv) * jnp.square(1.0 - z) - jnp.square(z))

    nonzero = jnp.sum(lax.map(chunk_sum, (rows, cols, s)))
    everything = jnp.sum((x.T @ x) * (y.T @ y))  # Σ_{u,i} (x_uᵀ y_i)² = tr(XᵀX YᵀY)
    return everything + nonzero + lambda_reg * (jnp.sum(x * x) + jnp.sum(y * y))


_objective_jit = jax.jit(_objective)


def wmf_objective(surplus: Any, user_factors: jax.Array, item_factors: jax.Array, lambda_reg: float = 1e-5,
                  chunk: int = 65536) -> float:
    """Eq. 4.3 for surplus confidences `surplus` (users × items, sparse: an `Interactions`, a scipy matrix or a
    triple with the shape taken from the factors) at factors X (users, f), Y (items, f); O(nnz·f + (users +
    items)·f²), never dense."""
    x = jnp.asarray(user_factors, jnp.float32)
    y = jnp.asarray(item_factors, jnp.float32)
    it = surplus if isinstance(surplus, Interactions) else _as_surplus(surplus, (x.shape[0], y.shape[0]))
    if it.shape != (x.shape[0], y.shape[0]):
        raise UserError(f"surplus confidence of shape {it.shape} does not match factors {x.shape} and {y.shape}")
    return float(_objective_jit(x, y, *_padded_coo(it, chunk), jnp.float32(lambda_reg)))


def _as_surplus(data: Any, shape: tuple[int, int] | None) -> Interactions:
    if isinstance(data, Interactions):
        return data
    return as_interactions(data, shape, name="surplus confidence", drop_zeros=False)


# ----------------------------------------------------------------------------------------------------- fitting


@dataclasses.dataclass(frozen=True)
class WMFResult:
    user_factors: jax.Array  # (num_users, num_factors) float32
    item_factors: jax.Array  # (num_items, num_factors) float32
    objective: np.ndarray  # (num_iterations,) Eq. 4.3 after each full iteration (users then items)


def _mesh_for(solver: str, mesh: Mesh | None) -> Mesh:
    """A 1-D mesh (axis "rows") over all devices, or the given one. Exception: the exact solver on CPU runs on
    one device. Several CPU devices (--xla_force_host_platform_device_count) share the same cores, so nothing is
    lost, and each would call the LAPACK Cholesky at the same time, which can deadlock XLA's intra-op pool (see
    `_solve_side`)."""
    devices = np.asarray(jax.devices()) if mesh is None else mesh.devices.reshape(-1)
    if solver == "exact" and devices[0].platform == "cpu":
        devices = devices[:1]
    if mesh is not None and devices.size == mesh.devices.size:
        return mesh
    return Mesh(devices, (_AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def _serial(solver: str, mesh: Mesh) -> bool:
    return solver == "exact" and mesh.devices.reshape(-1)[0].platform == "cpu"


@functools.partial(jax.jit, static_argnames=("solver", "cg_steps", "serial", "with_objective"))
def _iteration(x, y, user_buckets, user_pos, item_buckets, item_pos, coo, lambda_reg, solver, cg_steps, serial,
               with_objective):
    x = _solve_side(x, y, _Side(user_buckets, user_pos), lambda_reg, solver, cg_steps, serial)
    y = _solve_side(y, x, _Side(item_buckets, item_pos), lambda_reg, solver, cg_steps, serial)
    obj = _objective(x, y, *coo, lambda_reg) if with_objective else jnp.float32(jnp.nan)
    return x, y, obj


def factorize(surplus: Any, num_factors: int = 50, lambda_reg: float = 1e-5, num_iterations: int = 20,
              init_std: float = 0.01, seed: int | jax.Array = 0, solver: str = "exact", cg_steps: int = 3,
              item_init: jax.Array | None = None, user_init: jax.Array | None = None,
              shape: tuple[int, int] | None = None, callback: Callable[[int, float, jax.Array, jax.Array], Any]
              | None = None, compute_objective: bool = True, chunk_nnz: int = 16384, max_buckets: int = 8,
              mesh: Mesh | None = None) -> WMFResult:
    """ALS on a users × items surplus-confidence matrix S = C − 1 (benanne/wmf's ``factorize``).

    Item factors start as N(0, init_std²) from `seed` (an int or a PRNG key) unless `item_init` is given; the user
    step runs first, so `user_init` (zeros by default) only matters as the CG warm start. `solver` is "exact"
    (Cholesky) or "cg" (`cg_steps` warm-started steps). `callback(iteration, objective, X, Y)` runs after each
    iteration (objective NaN when `compute_objective` is False). `chunk_nnz` (padded entries per chunk) and
    `max_buckets` (support-size buckets per side) trade memory and padding against compiled shapes.
    """
    if solver not in ("exact", "cg"):
        raise UserError(f"solver must be 'exact' or 'cg', got {solver!r}")
    if num_factors < 1 or num_iterations < 0 or lambda_reg < 0 or cg_steps < 1 or max_buckets < 1:
        raise UserError("need num_factors ≥ 1, num_iterations ≥ 0, lambda_reg ≥ 0, cg_steps ≥ 1 and "
                         "max_buckets ≥ 1")
    it = _as_surplus(surplus, shape)
    num_users, num_items = it.shape
    mesh = _mesh_for(solver, mesh)
    users = _build_side(it, max_buckets, chunk_nnz, mesh)
    items = _build_side(it.transpose(), max_buckets, chunk_nnz, mesh)
    coo = _padded_coo(it, 4 * chunk_nnz)
    replicated = NamedSharding(mesh, P())

    if item_init is None:
        key = jax.random.key(seed) if isinstance(seed, int) else seed
        item_init = init_std * jax.random.normal(key, (num_items, num_factors), jnp.float32)
    y = jnp.asarray(item_init, jnp.float32)
    x = jnp.zeros((num_users, num_factors), jnp.float32) if user_init is None else jnp.asarray(user_init, jnp.float32)
    if x.shape != (num_users, y.shape[1]) or y.shape != (num_items, num_factors):
        raise UserError(f"init shapes {x.shape}, {y.shape} do not match ({num_users}, {num_items}) × {num_factors}")
    x, y = jax.device_put(x, replicated), jax.device_put(y, replicated)
    lam = jnp.float32(lambda_reg)
    history = []
    for i in range(num_iterations):
        x, y, obj = _iteration(x, y, users.buckets, users.position, items.buckets, items.position, coo, lam,
                               solver, cg_steps, _serial(solver, mesh), compute_objective)
        history.append(float(obj))
        if callback is not None:
            callback(i, history[-1], x, y)
    return WMFResult(x, y, np.asarray(history, np.float64))


def balance_factors(user_factors: Any, item_factors: Any) -> tuple[np.ndarray, np.ndarray]:
    """The same product X Yᵀ with the smallest ‖X‖² + ‖Y‖²: X' = Q_x A √S, Y' = Q_y B √S from X = Q_x R_x,
    Y = Q_y R_y and R_x R_yᵀ = A S Bᵀ, so X'ᵀX' = Y'ᵀY' = S (factor j carries singular value s_j, in decreasing
    order). ALS with a tiny λ leaves the split of scale between users and items wherever the initialisation put
    it (with benanne/wmf's defaults the item factors end ~500× smaller than the user factors); balancing never
    changes a score x_uᵀy_i and only lowers the λ term of Eq. 4.3. Regression targets are better conditioned."""
    x = np.asarray(user_factors, np.float64)
    y = np.asarray(item_factors, np.float64)
    qx, rx = np.linalg.qr(x)
    qy, ry = np.linalg.qr(y)
    a, sv, bt = np.linalg.svd(rx @ ry.T, full_matrices=False)
    root = np.sqrt(sv)
    pad = ((0, 0), (0, x.shape[1] - sv.size))  # fewer users or items than factors: rank < F, zero columns
    return (np.pad(qx @ a * root, pad).astype(np.float32), np.pad(qy @ bt.T * root, pad).astype(np.float32))


def fit_wmf(counts: Any, num_factors: int = 50, alpha: float = 2.0, epsilon: float = 1e-6, **kwargs) -> WMFResult:
    """Play counts (users × items, sparse) → WMF factors: `surplus_confidence` then `factorize` (same keywords)."""
    return factorize(surplus_confidence(counts, alpha, epsilon, shape=kwargs.pop("shape", None)), num_factors,
                     **kwargs)
