"""Convex QPs and LPs through HiGHS (``highspy``): one small wrapper for every family that needs one.

minimize 0.5 x'Qx + c'x + offset  subject to  row_lo <= A x <= row_hi,  col_lo <= x <= col_hi
(infinite bounds allowed). Returns the primal solution, or None unless HiGHS reports optimal.
"""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
import scipy.sparse as sp

_BANNER_SILENCED = False


def solve_qp(c: np.ndarray, A: sp.spmatrix, row_lo: np.ndarray, row_hi: np.ndarray, col_lo: np.ndarray,
             col_hi: np.ndarray, Q: sp.spmatrix | None = None, offset: float = 0.0) -> np.ndarray | None:
    """Solve the (convex) QP, or the LP when ``Q`` is None or empty; None when not optimal."""
    import highspy

    n = len(c)
    A = sp.csc_matrix(A)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, A.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.offset_ = float(offset)
    lp.col_lower_, lp.col_upper_ = np.clip(col_lo, -inf, inf), np.clip(col_hi, -inf, inf)
    lp.row_lower_, lp.row_upper_ = np.clip(row_lo, -inf, inf), np.clip(row_hi, -inf, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    model = highspy.HighsModel()
    model.lp_ = lp
    if Q is not None and Q.nnz:
        lower = sp.csc_matrix(sp.tril(Q))  # HiGHS reads the lower triangle
        hessian = highspy.HighsHessian()
        hessian.dim_, hessian.format_ = n, highspy.HessianFormat.kTriangular
        hessian.start_, hessian.index_, hessian.value_ = lower.indptr, lower.indices, lower.data
        model.hessian_ = hessian
    h = new_highs(highspy)
    h.passModel(model)
    run_highs(highspy, h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value, dtype=float)
    return x if np.all(np.isfinite(x)) else None


def new_highs(highspy):
    """A quiet, single-threaded Highs object for every feasgym solve (QPs, LPs, the UC MILP).

    One thread: HiGHS's workers spin while they wait, so a default-threaded MILP in each of 8 vector-env
    workers on 2 cores ran for minutes instead of ~0.3 s. The first Highs of a process prints a banner
    from C++, which is sent to /dev/null."""
    global _BANNER_SILENCED
    if _BANNER_SILENCED:
        h = highspy.Highs()
    else:
        _BANNER_SILENCED = True
        with _stdout_fd_silenced():
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    return h


def run_highs(highspy, h) -> None:
    """``h.run()``; when the process's global HiGHS scheduler was started by someone else with another
    thread count (HiGHS then refuses to run), it is reset and the run repeated once."""
    status = h.run()
    if status == highspy.HighsStatus.kError and h.getModelStatus() == highspy.HighsModelStatus.kNotset:
        highspy.Highs.resetGlobalScheduler(True)
        h.run()


@contextlib.contextmanager
def _stdout_fd_silenced():
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):
        yield  # no real stdout descriptor: nothing to silence
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
