"""Neural ODEs and their equilibrium-preserving discretisations — Paper 1, Section 5 (eq. 20–21, Def. 17, Prop. 18).

The neural ODE of the two-spirals network is ẋ(t) = F(x(t); u(t)) with the right-hand side of block (26),
F(x; u) = A_2 σ1(A_1 x + b_1) + b_2 (σ2 = identity), and the continuous-time OCP (20) minimises
∫_0^T ℓ(x(t), u(t)) dt + γ·ℓ_f(x(T)). We discretise it on the grid t_k = k·Δt, k = 0..N, N = T/Δt, with a
piecewise-constant control (one u_k per step, the k-th block's four tensors) and a fixed-step explicit
scheme x_{k+1} = Φ(x_k; u_k, Δt) (book/methods.md#p1-neural-ode):

* ``euler``: Φ = x + Δt·F(x) — with Δt = 1 this is the ResNet (26) itself;
* ``midpoint``: Φ = x + Δt·F(x + (Δt/2)·F(x)) (explicit midpoint, order 2);
* ``rk4``: the classic Runge–Kutta scheme of order 4.

All three preserve equilibria in the sense Prop. 18 uses: F(x̄; ū) = 0 makes every stage zero, so
Φ(x̄; ū) = x̄; in particular u = 0 (F ≡ 0, since σ1(0) = 0) makes every state a fixed point.

:func:`step` and :func:`integrate` are the schemes for any right-hand side. :class:`ODEStack` is
:class:`lossdyn.dissipativity.training.ResNetStack` with the block replaced by one step of a scheme (the
networks of a stack share the scheme and Δt): the stack's batched layout, Adam, per-layer measures and
training loop (:func:`lossdyn.dissipativity.training.train_stack`) serve it unchanged. With ``euler`` and
Δt = 1 its forward pass and training are those of ``ResNetStack``, bit for bit (tests).

The stage cost is the left Riemann sum of ∫ℓ dt: J_Δt = Δt·Σ_{k<N} (L_k + (r/2)‖u_k‖²) + γ·L_N, r applied
as Adam's weight decay as on the other Paper 1 pages. :func:`train_and_measure_ode` minimises J_Δt/Δt, i.e.
the stack's objective with terminal weight γ/Δt and weight decay r: the same minimisers, and the same Adam
iterates as on J_Δt itself with Adam's ε scaled by Δt (Adam is invariant to a constant factor on the gradient
otherwise). :class:`ODERecord` is one trained network with its curves over t.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lossdyn.dissipativity.training import LayerCurves, ResNetStack, layer_metrics, network_curves, train_stack
from lossdyn.dissipativity.turnpike import CurveSummary
from lossdyn.pipeline.device import generator

__all__ = [
    "ORDER",
    "SCHEMES",
    "STAGES",
    "ODERecord",
    "ODEStack",
    "integrate",
    "steps_per_unit",
    "step",
    "train_and_measure_ode",
    "zero_control_residual",
]

#: The fixed-step explicit schemes (book/methods.md#p1-neural-ode).
SCHEMES = ("euler", "midpoint", "rk4")
#: Their order of convergence ...
ORDER = {"euler": 1, "midpoint": 2, "rk4": 4}
#: ... and evaluations of F per step (the cost of a step relative to a ResNet block).
STAGES = {"euler": 1, "midpoint": 2, "rk4": 4}

Field = Callable[[torch.Tensor], torch.Tensor]


def step(scheme: str, F: Field, x: torch.Tensor, dt: float) -> torch.Tensor:
    """One step x ↦ Φ(x) of ``scheme`` for ẋ = F(x), with the control (inside ``F``) held over the step.

    ``euler``: x + Δt·F(x); ``midpoint``: x + Δt·F(x + (Δt/2)·F(x)); ``rk4``: x + (Δt/6)(k1 + 2k2 + 2k3 + k4)
    with k1 = F(x), k2 = F(x + (Δt/2)k1), k3 = F(x + (Δt/2)k2), k4 = F(x + Δt·k3). F(x) = 0 gives Φ(x) = x.
    """
    if scheme == "euler":
        return x + dt * F(x)
    if scheme == "midpoint":
        return x + dt * F(x + (dt / 2) * F(x))
    if scheme == "rk4":
        k1 = F(x)
        k2 = F(x + (dt / 2) * k1)
        k3 = F(x + (dt / 2) * k2)
        k4 = F(x + dt * k3)
        return x + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
    raise ValueError(f"unknown scheme {scheme!r}; known: {', '.join(SCHEMES)}")


def integrate(scheme: str, fields: Sequence[Field], x0: torch.Tensor, dt: float) -> torch.Tensor:
    """x_0, …, x_N of ``scheme`` with the piecewise-constant right-hand sides ``fields`` (F(·; u_k) on step k).

    **Returns** shape ``(N + 1, *x0.shape)``, N = ``len(fields)``; x_k approximates x(k·Δt).
    """
    states = [x0]
    for F in fields:
        states.append(step(scheme, F, states[-1], dt))
    return torch.stack(states)


def steps_per_unit(dt: float) -> int:
    """1/Δt, which must be a whole number (Δt = 1, 0.5, 0.25, …): the steps of the grid in one unit of t."""
    r = round(1.0 / dt) if dt > 0 else 0
    if r < 1 or abs(r * dt - 1.0) > 1e-9:
        raise ValueError(f"dt = {dt!r}: need 1/dt to be a whole number (1, 0.5, 0.25, ...)")
    return r


class ODEStack(ResNetStack):
    """M networks x_{k+1} = Φ(x_k; u_k, Δt) of one ``scheme`` and one step ``dt``, F of block (26).

    **Arguments:** as :class:`~lossdyn.dissipativity.training.ResNetStack` (``depths`` are the step counts
    N_m = T_m/Δt, non-increasing), plus ``scheme`` (one of :data:`SCHEMES`) and ``dt`` (1/Δt a whole number).

    Initialisation: network m's controls are ``nn.Linear``'s draws of a ResNet of the same seed (the parent's
    draws, block by block), one draw per unit of time held over its 1/Δt steps: every Δt starts from the
    same piecewise-constant u_0(t), and Δt = 1 starts exactly as the ResNet (book/methods.md#p1-neural-ode-choices).
    """

    def __init__(self, depths: Sequence[int], seeds: Sequence[int], *, scheme: str, dt: float, **kw: Any) -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; known: {', '.join(SCHEMES)}")
        self.scheme, self.dt, self.repeat = scheme, float(dt), steps_per_unit(dt)
        super().__init__(depths, seeds, **kw)

    @torch.no_grad()
    def _initialise(self) -> None:
        """The parent's draws per unit of time (network by network from its own generator), each held for
        :attr:`repeat` = 1/Δt steps."""
        shapes = ((self.width, self.n), (self.width,), (self.n, self.width), (self.n,))
        for m, (depth, seed) in enumerate(zip(self.depths, self.seeds)):
            gen = generator(seed)
            for j in range(math.ceil(depth / self.repeat)):
                for i, shape in enumerate(shapes):
                    bound = 1.0 / math.sqrt(self.n if i < 2 else self.width)
                    draw = torch.rand(shape, generator=gen, dtype=torch.float64) * (2 * bound) - bound
                    value = draw.T if i % 2 == 0 else draw
                    for k in range(j * self.repeat, min((j + 1) * self.repeat, depth)):
                        p = self.blocks[k][i]
                        p[m] = value.to(p.dtype)

    def _block(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Step k: x_{k+1} = Φ(x_k; u_k, Δt) (:func:`step`) with the parent's ``field`` (F of block (26)): the
        parent's block bit for bit for ``euler`` and Δt = 1 (x + 1·F(x) = x + F(x) exactly)."""
        return step(self.scheme, functools.partial(self.field, k), x, self.dt)

    def times(self, m: int) -> torch.Tensor:
        """t_k = k·Δt, k = 0..N_m, of network m (float64)."""
        return torch.arange(self.depths[m] + 1, dtype=torch.float64) * self.dt


@torch.no_grad()
def zero_control_residual(scheme: str, dt: float, x: torch.Tensor, *, width: int, activation: str) -> float:
    """max |Φ(x; u = 0, Δt) − x| over the rows of ``x`` (``(D, n)``): 0 exactly when every state is a fixed point
    of the scheme with zero control, which is what Prop. 18's proof uses."""
    stack = ODEStack([1], [0], scheme=scheme, dt=dt, n=x.shape[-1], width=width, activation=activation, dtype=x.dtype)
    stack.theta.zero_()
    return float((stack.forward(x)[1, 0] - x).abs().max())


def train_and_measure_ode(
    nets: Sequence[dict[str, Any]],
    data: dict[str, torch.Tensor],
    *,
    scheme: str,
    dt: float,
    n: int,
    width: int,
    activation: str,
    C: int,
    p_d: float,
    gamma: float,
    weight_decay: float,
    eps_required: float,
    eps_turnpike: float,
    steps: int,
    schedule: str = "constant",
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    desc: str = "training",
) -> list[dict[str, Any]]:
    """Train ``nets`` (dicts with ``depth`` = N, ``lr``, ``seed``, copied through) as one :class:`ODEStack` on
    the Riemann-sum objective J_Δt (module docstring), full batch, and measure each on both sets.

    **Returns** one plain dict per net, in the order given (a unit's result): its fields, ``dt``, ``scheme``,
    ``train``/``test`` curves over the steps (:func:`~lossdyn.dissipativity.training.layer_metrics`) and their
    :class:`~lossdyn.dissipativity.turnpike.CurveSummary` (in steps), ``u_norm`` ‖u_k‖₂, ``history_objective``
    (Δt·Σ_{k<N} L_k + γ·L_N at every step, before the update) and ``zero_control_residual``.
    """
    order = sorted(range(len(nets)), key=lambda i: -nets[i]["depth"])
    specs = [nets[i] for i in order]
    stack = ODEStack(
        [s["depth"] for s in specs],
        [s["seed"] for s in specs],
        scheme=scheme,
        dt=dt,
        n=n,
        width=width,
        activation=activation,
        device=device,
        dtype=dtype,
    )
    history = train_stack(
        stack,
        data["x_train"],
        data["y_train"],
        stage_cost=[True] * len(specs),
        lr=[s["lr"] for s in specs],
        gamma=gamma / dt,
        weight_decay=weight_decay,
        C=C,
        p_d=p_d,
        steps=steps,
        schedule=schedule,
        desc=desc,
    )
    metrics = {
        split: layer_metrics(stack, data[f"x_{split}"], data[f"y_{split}"], C=C, p_d=p_d) for split in ("train", "test")
    }
    u = stack.control_norms()
    residual = zero_control_residual(scheme, dt, data["x_train"].to(dtype), width=width, activation=activation)
    out: list[dict[str, Any]] = [{} for _ in nets]
    for j, i in enumerate(order):
        depth = specs[j]["depth"]
        rec: dict[str, Any] = dict(specs[j], scheme=scheme, dt=float(dt))
        rec.update(network_curves(metrics, j, depth, eps_required=eps_required, eps_turnpike=eps_turnpike))
        rec["u_norm"] = u[j, :depth].clone()
        rec["history_objective"] = history["objective"][:, j] * dt
        rec["zero_control_residual"] = residual
        out[i] = rec
    return out


@dataclasses.dataclass(frozen=True)
class ODERecord:
    """One trained network of :func:`train_and_measure_ode` (one unit), typed.

    * ``label``, ``role``, ``depth`` (N = T/Δt steps), ``lr``, ``seed``, ``seed_index`` — its spec;
      ``scheme`` and ``dt`` Δt; ``horizon`` T = N·Δt;
    * ``train``, ``test`` — :class:`~lossdyn.dissipativity.training.LayerCurves` over the steps k = 0..N
      (x_k ≈ x(k·Δt)), float64;
    * ``train_summary``, ``test_summary`` — their :class:`~lossdyn.dissipativity.turnpike.CurveSummary`
      (in steps: multiply by Δt for times);
    * ``u_norm`` — ‖u_k‖₂ per step, shape ``(N,)``; ``history_objective`` — J_Δt's loss part at every Adam
      step, shape ``(steps,)``; ``zero_control_residual`` — :func:`zero_control_residual` of its scheme and Δt.

    It has the fields :func:`lossdyn.dissipativity.spirals.network_status` reads (``train``, ``history_objective``).
    """

    label: str
    role: str
    scheme: str
    dt: float
    horizon: int
    depth: int
    lr: float
    seed: int
    seed_index: int
    train: LayerCurves
    test: LayerCurves
    train_summary: CurveSummary
    test_summary: CurveSummary
    u_norm: torch.Tensor
    history_objective: torch.Tensor
    zero_control_residual: float

    @property
    def times(self) -> torch.Tensor:
        """t_k = k·Δt, k = 0..N (float64)."""
        return torch.arange(self.depth + 1, dtype=torch.float64) * self.dt

    @classmethod
    def from_unit(cls, rec: dict[str, Any]) -> ODERecord:
        """The typed record of one of :func:`train_and_measure_ode`'s dicts (a ``horizon`` field in the spec)."""
        return cls(
            label=rec["label"],
            role=rec["role"],
            scheme=rec["scheme"],
            dt=float(rec["dt"]),
            horizon=int(rec["horizon"]),
            depth=int(rec["depth"]),
            lr=float(rec["lr"]),
            seed=int(rec["seed"]),
            seed_index=int(rec["seed_index"]),
            train=LayerCurves(**rec["train"]),
            test=LayerCurves(**rec["test"]),
            train_summary=CurveSummary(**rec["train_summary"]),
            test_summary=CurveSummary(**rec["test_summary"]),
            u_norm=rec["u_norm"],
            history_objective=rec["history_objective"],
            zero_control_residual=float(rec["zero_control_residual"]),
        )
