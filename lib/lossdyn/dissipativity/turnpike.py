"""Measuring the turnpike of a trained ResNet — Paper 1, Prop. 12 and Section 6 (book/methods.md#p1-measures).

All functions take per-layer curves (k = 0..N) of one network on one data set:

* required depth k⋆ ("enter and stay"): the first layer from which the curve stays within a
  tolerance of its final value for every later layer, :func:`required_depth` (relative to the
  total drop L_0 − L_N), :func:`required_depth_abs` (absolute, in nats) and
  :func:`required_depth_acc` (accuracy within a tolerance of acc_N);
* the turnpike set Q_ε = {k ∈ [0, N−1] : d_k ≤ ε} of Prop. 12 and its complement Q̄_ε, whose
  size the proposition bounds independently of N (:func:`on_turnpike_count`,
  :func:`off_turnpike_count`);
* all four numbers of one curve at once: :func:`curve_summary` → :class:`CurveSummary`.

Cropping needs no function: the state is the output, so the network cropped after k blocks
outputs x_k (``ResNetOC.forward(x0, upto=k)``) and its loss and accuracy are L_k and acc_k.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

__all__ = [
    "CurveSummary",
    "curve_summary",
    "off_turnpike_count",
    "on_turnpike_count",
    "required_depth",
    "required_depth_abs",
    "required_depth_acc",
    "stays_from",
]


def _as_tensor(curve: Sequence[float] | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(curve, dtype=torch.float64).flatten()
    if t.numel() < 1:
        raise ValueError("need a curve with at least one layer")
    return t


def stays_from(ok: Sequence[bool] | torch.Tensor) -> int:
    """The first index k with ``ok[j]`` true for every j ≥ k (``len(ok)`` if ``ok[-1]`` is false)."""
    ok = torch.as_tensor(ok, dtype=torch.bool).flatten()
    bad = torch.nonzero(~ok).flatten()
    return 0 if bad.numel() == 0 else int(bad[-1]) + 1


def required_depth(loss: Sequence[float] | torch.Tensor, eps: float = 0.05) -> int:
    """k⋆_ε = min{k : L_j ≤ L_N + ε·(L_0 − L_N) for all j ∈ [k, N]} ("enter and stay", book/methods.md#p1-measures).

    **Returns** an integer in [0, N]; N when the curve did not fall (L_0 ≤ L_N) or is NaN, i.e.
    the network needs (at least) its full depth.
    """
    L = _as_tensor(loss)
    N = L.numel() - 1
    threshold = L[-1] + eps * (L[0] - L[-1])
    if not bool(L[0] > L[-1]):
        return N
    return min(stays_from(L <= threshold), N)


def required_depth_abs(loss: Sequence[float] | torch.Tensor, tol: float = 0.01) -> int:
    """min{k : |L_j − L_N| ≤ tol for all j ∈ [k, N]} (absolute version, in nats); N if NaN."""
    L = _as_tensor(loss)
    return min(stays_from((L - L[-1]).abs() <= tol), L.numel() - 1)


def required_depth_acc(acc: Sequence[float] | torch.Tensor, tol: float = 0.005) -> int:
    """k⋆_acc = min{k : acc_j ≥ acc_N − tol for all j ∈ [k, N]} (tol 0.005 = 0.5 pp); N if NaN."""
    a = _as_tensor(acc)
    return min(stays_from(a >= a[-1] - tol), a.numel() - 1)


def on_turnpike_count(dist: Sequence[float] | torch.Tensor, eps: float) -> int:
    """#Q_ε = #{k ∈ [0, N−1] : d_k ≤ ε} (Prop. 12; the last state x_N is not counted)."""
    d = _as_tensor(dist)
    return int((d[:-1] <= eps).sum())


def off_turnpike_count(dist: Sequence[float] | torch.Tensor, eps: float) -> int:
    """#Q̄_ε = N − #Q_ε: layers k < N with d_k > ε (NaN counts as off). Prop. 12: ≤ V̂/α(ε), independent of N."""
    d = _as_tensor(dist)
    return d.numel() - 1 - on_turnpike_count(d, eps)


@dataclasses.dataclass(frozen=True)
class CurveSummary:
    """The turnpike numbers of one network on one data set, from its per-layer curves (k = 0..N).

    * ``k_star`` — the required depth k⋆ of :func:`required_depth` (relative to the drop L_0 − L_N);
    * ``k_star_abs`` — :func:`required_depth_abs` with 0.01 nats;
    * ``k_star_acc`` — :func:`required_depth_acc` with 0.5 pp;
    * ``off_turnpike_count`` — #Q̄_ε of :func:`off_turnpike_count` (Prop. 12).

    All are integers in [0, N] (book/methods.md#p1-measures).
    """

    k_star: int
    k_star_abs: int
    k_star_acc: int
    off_turnpike_count: int


def curve_summary(
    loss: torch.Tensor, acc: torch.Tensor, dist: torch.Tensor, *, eps_required: float, eps_turnpike: float
) -> CurveSummary:
    """The :class:`CurveSummary` of one network on one data set: k⋆ with ``eps_required``, the
    absolute and accuracy versions with their fixed tolerances, and #Q̄_ε with ``eps_turnpike``."""
    return CurveSummary(
        k_star=required_depth(loss, eps_required),
        k_star_abs=required_depth_abs(loss),
        k_star_acc=required_depth_acc(acc),
        off_turnpike_count=off_turnpike_count(dist, eps_turnpike),
    )
