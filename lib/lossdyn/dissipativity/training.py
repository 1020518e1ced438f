"""Training several ResNets of blocks (26) at once on the OCP (5) — Paper 1, Section 6.

:class:`ResNetStack` holds M networks of block (26), x_{k+1} = x_k + A_{k,2}σ1(A_{k,1}x_k + b_{k,1}) + b_{k,2},
with one shared state dimension n, hidden width and σ1, but each with its own depth N_m, seed,
learning rate and objective. Layer k stacks the blocks of the M_k networks that are deeper than k
(depths must be non-increasing), so one batched matmul serves them all; a network that has ended
carries its state unchanged (an all-zero block is the identity, so x_k = x_{N_m} for k > N_m).
The objectives are separable and Adam is elementwise, so training the stack is the same
mathematics as training each network alone; it is just fewer, larger tensor operations.

The objective of network m is Σ_k w_{k,m}·L_k^m with L_k = mean_i ℓ̃_f(x_k^i[:C], y^i) (eq. 13,
Remark 4) and weights from :func:`objective_weights`: 1 for k < N_m and γ at k = N_m with the
stage cost (17) (eq. 5, cf. :func:`lossdyn.dissipativity.resnet_oc.ocp_objective`), γ at N_m only without it.
The control penalty r‖u‖² is applied as Adam's (coupled) weight decay r, as the paper's wording
"weight decay" (Section 6) suggests; that is the gradient of (r/2)‖u‖² (book/methods.md#p1-objective).

All parameters live in one flat buffer (each block tensor is a view of it, and
:meth:`ResNetStack.backward` writes the gradient into one flat buffer), so :class:`FlatAdam` updates
every network with PyTorch's fused Adam kernel in one pass. Randomness comes only from explicit
generators: network m is initialised from ``generator(seed_m)`` exactly like ``nn.Linear``
(U(±1/√fan_in) for weights and biases), block by block, so a network's initial blocks do not depend
on what else is in the stack.

:func:`train_and_measure` trains a list of networks (each described by :func:`network_spec`) as one
stack and returns one plain dict per network (a unit of the results cache); a figure's ``finish``
turns each into a typed :class:`NetworkRecord` (:meth:`NetworkRecord.from_unit`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from lossdyn.dissipativity.resnet_oc import ACTIVATIONS, ResNetOC
from lossdyn.dissipativity.soft_ce import distance_to_minimiser_set, soft_cross_entropy, target_entropy
from lossdyn.dissipativity.turnpike import CurveSummary, curve_summary
from lossdyn.pipeline.device import generator
from lossdyn.pipeline.progress import progress

__all__ = [
    "Crop",
    "FlatAdam",
    "LR_SCHEDULES",
    "LayerCurves",
    "NetworkRecord",
    "ResNetStack",
    "lr_factor",
    "layer_metrics",
    "network_spec",
    "objective_weights",
    "stack_losses",
    "stage_losses_fast",
    "train_and_measure",
    "train_stack",
]


class ResNetStack:
    """M depth-N_m ResNets of block (26) evaluated together (see the module docstring).

    **Arguments:** ``depths`` N_m, non-increasing; ``seeds`` one per network (initialisation);
    ``n`` state dimension (≥ C, Remark 4); ``width`` hidden width; ``activation`` σ1
    (``"tanh"`` or ``"relu"``); ``device``, ``dtype``.
    """

    def __init__(
        self,
        depths: Sequence[int],
        seeds: Sequence[int],
        *,
        n: int,
        width: int,
        activation: str,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if not depths or len(seeds) != len(depths):
            raise ValueError("need one seed per network and at least one network")
        if any(a < b for a, b in zip(depths, depths[1:])) or min(depths) < 1:
            raise ValueError(f"depths must be >= 1 and non-increasing, got {list(depths)}")
        self.depths, self.seeds = tuple(depths), tuple(seeds)
        self.n, self.width, self.activation = n, width, activation
        self.sigma1 = ACTIVATIONS[activation]
        self.M, self.N = len(depths), max(depths)
        #: M_k: how many networks have a block k (the first M_k of the stack).
        self.active = tuple(sum(d > k for d in depths) for k in range(self.N))
        shapes = []
        for m_k in self.active:
            # A_{k,1}ᵀ, b_{k,1}, A_{k,2}ᵀ, b_{k,2} (weights stored transposed: x·Aᵀ needs no copy)
            shapes.append([(m_k, n, width), (m_k, 1, width), (m_k, width, n), (m_k, 1, n)])
        total = sum(math.prod(s) for layer in shapes for s in layer)
        self.theta = torch.zeros(total, device=device, dtype=dtype)
        self.grad = torch.zeros_like(self.theta)
        self.blocks: list[list[torch.Tensor]] = []
        #: per layer and tensor: (offset, shape) into the flat buffer
        self._layout: list[list[tuple[int, tuple[int, ...]]]] = []
        offset = 0
        for layer in shapes:
            views, layout = [], []
            for shape in layer:
                size = math.prod(shape)
                p = self.theta[offset : offset + size].view(shape)
                p.requires_grad_(True)
                views.append(p)
                layout.append((offset, shape))
                offset += size
            self.blocks.append(views)
            self._layout.append(layout)
        self._initialise()

    @torch.no_grad()
    def _initialise(self) -> None:
        """``nn.Linear``'s default init, network by network from its own generator (on the CPU)."""
        for m, (depth, seed) in enumerate(zip(self.depths, self.seeds)):
            gen = generator(seed)
            for k in range(depth):
                # nn.Linear order and shapes: A1 (width, n), b1, A2 (n, width), b2; weights stored transposed
                shapes = ((self.width, self.n), (self.width,), (self.n, self.width), (self.n,))
                for i, (p, shape) in enumerate(zip(self.blocks[k], shapes)):
                    bound = 1.0 / math.sqrt(self.n if i < 2 else self.width)
                    draw = torch.rand(shape, generator=gen, dtype=torch.float64) * (2 * bound) - bound
                    p[m] = (draw.T if i % 2 == 0 else draw).to(p.dtype)

    def network_slice(self, m: int) -> torch.Tensor:
        """Boolean mask over the flat buffer selecting network m's parameters."""
        mask = torch.zeros(self.theta.numel(), dtype=torch.bool, device=self.theta.device)
        for k in range(self.depths[m]):
            for offset, shape in self._layout[k]:
                per = math.prod(shape[1:])
                mask[offset + m * per : offset + (m + 1) * per] = True
        return mask

    @property
    def parameters(self) -> list[torch.Tensor]:
        """Every block tensor (views of the flat buffer), in buffer order."""
        return [p for block in self.blocks for p in block]

    def backward(self, loss: torch.Tensor) -> None:
        """Write ∂loss/∂θ into the flat gradient buffer (one copy; no per-tensor ``.grad``)."""
        grads = torch.autograd.grad(loss, self.parameters)
        torch.cat([g.reshape(-1) for g in grads], out=self.grad)

    def segments(self) -> list[tuple[int, int]]:
        """(offset, length) of every network's contiguous piece of every block tensor, in buffer order."""
        out = []
        for layout in self._layout:
            for offset, shape in layout:
                per = math.prod(shape[1:])
                out += [(offset + m * per, per) for m in range(shape[0])]
        return out

    def num_parameters(self, m: int) -> int:
        return self.depths[m] * (2 * self.n * self.width + self.width + self.n)

    def field(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """The residual of block k of eq. (26), F(x; u_k) = σ1(x·A1ᵀ + b1)·A2ᵀ + b2, for the first M_k networks
        (x: ``(M_k, D, n)``); a subclass steps x with it (:mod:`lossdyn.dissipativity.neural_ode`).

        The biases are broadcast over the D samples by a product with a column of ones (exact, so the
        same forward bits): the gradient of a broadcast add is a sum over D whose CPU kernel changes its
        order with the number of networks M_k (seen on the stack's own gradients), while the batched
        product's gradient does not, so each network's gradient is the same bits whatever else is in the
        stack (a cache unit is one network). It costs about 15 % of a training step.
        """
        A1t, b1, A2t, b2 = self.blocks[k]
        ones = x.new_ones(x.shape[0], x.shape[1], 1)
        h = self.sigma1(torch.baddbmm(torch.bmm(ones, b1), x, A1t))
        return torch.baddbmm(torch.bmm(ones, b2), h, A2t)

    def _block(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Block k of eq. (26) for the first M_k networks: x + σ1(x·A1ᵀ + b1)·A2ᵀ + b2."""
        return x + self.field(k, x)

    def states(self, x0: torch.Tensor) -> Iterator[torch.Tensor]:
        """Yield x_0, …, x_N for every network: tensors of shape ``(M, D, n)`` (x0: ``(D, n)``).

        For k > N_m network m's state is carried unchanged. Stopping early is cropping.
        """
        x = x0.expand(self.M, *x0.shape)
        yield x
        done: list[torch.Tensor] = []  # states of finished networks, in stack order
        for k, m_k in enumerate(self.active):
            if m_k < x.shape[0]:
                done.insert(0, x[m_k:])
                x = x[:m_k]
            x = self._block(k, x)
            yield torch.cat([x, *done]) if done else x

    def logits(self, x0: torch.Tensor, C: int) -> torch.Tensor:
        """x_k[:C] for every layer and network, shape ``(N + 1, M, D, C)`` (the training path).

        The same arithmetic as :meth:`states`, but finished networks are sliced once, not per layer.
        """
        x = x0.expand(self.M, *x0.shape)
        out = [x[..., :C]]
        done: list[torch.Tensor] = []
        for k, m_k in enumerate(self.active):
            if m_k < x.shape[0]:
                done.insert(0, x[m_k:, :, :C])
                x = x[:m_k]
            x = self._block(k, x)
            out.append(torch.cat([x[..., :C], *done]) if done else x[..., :C])
        return torch.stack(out)

    def forward(self, x0: torch.Tensor, *, upto: int | None = None) -> torch.Tensor:
        """All states up to ``upto`` (default N) stacked: shape ``(k + 1, M, D, n)``."""
        out = []
        for k, x in enumerate(self.states(x0)):
            out.append(x)
            if upto is not None and k == upto:
                break
        return torch.stack(out)

    @torch.no_grad()
    def control_norms(self) -> torch.Tensor:
        """‖u_k‖₂ (all four tensors of block k) per network and layer: ``(M, N)``, NaN for k ≥ N_m."""
        out = torch.full((self.M, self.N), float("nan"), dtype=torch.float64)
        for k, block in enumerate(self.blocks):
            sq = sum((p.detach().double() ** 2).flatten(1).sum(1) for p in block)
            out[: self.active[k], k] = sq.sqrt().cpu()
        return out

    @torch.no_grad()
    def to_resnet_oc(self, m: int) -> ResNetOC:
        """Network m as a :class:`~lossdyn.dissipativity.resnet_oc.ResNetOC` (a copy; the stack's device and dtype)."""
        net = ResNetOC(self.n, self.width, self.depths[m], self.activation).to(self.theta.device, self.theta.dtype)
        for k, block in enumerate(net.blocks):
            A1t, b1, A2t, b2 = self.blocks[k]
            block.inner.weight.copy_(A1t[m].T)
            block.inner.bias.copy_(b1[m, 0])
            block.outer.weight.copy_(A2t[m].T)
            block.outer.bias.copy_(b2[m, 0])
        return net


def objective_weights(
    depths: Sequence[int], stage_cost: Sequence[bool], gamma: float, *, dtype=torch.float32, device="cpu"
) -> torch.Tensor:
    """Weights w_{k,m} of the objectives, shape ``(N + 1, M)``: Σ_k w_{k,m} L_k^m is eq. (5) with (17).

    With the stage cost: 1 for k < N_m and γ at k = N_m (the k = 0 term is a constant but is
    kept, as in (5)); without: γ at k = N_m only. Zero after N_m.
    """
    N = max(depths)
    w = torch.zeros(N + 1, len(depths), dtype=dtype, device=device)
    for m, (depth, stage) in enumerate(zip(depths, stage_cost)):
        if stage:
            w[:depth, m] = 1.0
        w[depth, m] = gamma
    return w


class FlatAdam:
    """Adam on a flat buffer with coupled weight decay (``torch.optim.Adam(weight_decay=r)``): the gradient becomes
    g + r·θ before the moments.

    ``lr`` is a float or a float64 tensor shaped like the buffer (per-network values; the step size is rounded
    to the buffer's dtype once, as a float's is), ``weight_decay`` a float; ``scale``
    multiplies every learning rate (the schedule's factor, set before a step). The step is a few passes over
    the whole buffer made only of single-rounding operations (+, −, ×, ÷, √; no fused multiply-adds such as
    ``lerp``, ``addcmul`` or the fused Adam kernel, whose rounding depends on an element's position in its
    tensor): every element is updated from its own values alone, so a network's update is the same bits
    whatever else is in the stack (a unit of the results cache, lossdyn.pipeline.units) and whatever its
    learning rate's neighbours are. ``segments`` is accepted for the stack's layout and not needed.
    """

    def __init__(
        self,
        theta,
        grad,
        *,
        lr,
        weight_decay,
        betas=(0.9, 0.999),
        eps=1e-8,
        segments: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        self.theta, self.grad = theta, grad
        self.lr, self.weight_decay = lr, weight_decay
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.scale = 1.0
        self.exp_avg = torch.zeros_like(theta)
        self.exp_avg_sq = torch.zeros_like(theta)
        self.t = 0

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step in place (the arithmetic of ``torch.optim.Adam``'s single-tensor path, op by op)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        g = self.grad + self.theta * self.weight_decay
        self.exp_avg.mul_(b1).add_(g * (1 - b1))
        self.exp_avg_sq.mul_(b2).add_((g * g).mul_(1 - b2))
        bias_correction1 = 1 - b1**self.t
        bias_correction2_sqrt = math.sqrt(1 - b2**self.t)
        denom = self.exp_avg_sq.sqrt().div_(bias_correction2_sqrt).add_(self.eps)
        step_size = self.lr * (self.scale / bias_correction1)  # a float, or float64 per element: rounded once
        if isinstance(step_size, torch.Tensor):
            step_size = step_size.to(self.theta.dtype)
        self.theta.sub_((self.exp_avg * step_size).div_(denom))


#: Learning-rate schedules of :func:`train_stack`: the factor that multiplies each network's lr at step t
#: (:func:`lr_factor`; book/methods.md#p1-training).
LR_SCHEDULES = ("constant", "cosine", "warmup_cosine")

#: ``warmup_cosine``: the fraction of the steps over which the factor rises linearly to 1.
WARMUP_FRACTION = 0.05


def lr_factor(schedule: str, t: int, total: int) -> float:
    """The factor of the learning rate at step ``t`` (0-based) of ``total``.

    ``constant``: 1. ``cosine``: ½(1 + cos(π t/total)), from 1 at the first step towards 0 at the last.
    ``warmup_cosine``: (t + 1)/w for the first w = ⌈0.05·total⌉ steps, then the cosine over the rest.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t / total))
    if schedule == "warmup_cosine":
        w = max(1, math.ceil(WARMUP_FRACTION * total))
        if t < w:
            return (t + 1) / w
        return 0.5 * (1.0 + math.cos(math.pi * (t - w) / max(1, total - w)))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; known: {', '.join(LR_SCHEDULES)}")


def _per_network(stack: ResNetStack, values: Sequence[float]) -> float | torch.Tensor:
    """A float when all networks share the value, else a flat per-parameter tensor."""
    if len(set(values)) == 1:
        return float(values[0])
    out = torch.zeros_like(stack.theta, dtype=torch.float64)  # every parameter belongs to exactly one network
    for m, v in enumerate(values):
        out[stack.network_slice(m)] = v
    return out


def stage_losses_fast(logits: torch.Tensor, y: torch.Tensor, *, C: int, p_d: float) -> torch.Tensor:
    """mean_i ℓ̃_f(x^i, y^i) over the second-to-last axis, for logits of shape ``(..., D, C)``.

    The same value as ``soft_cross_entropy(...).mean(-1)`` (eq. 13), written as
    ℓ̃_f = logsumexp(x) − q̃ᵀx − H(q̃) with the classes moved to the front, because softmax over a
    last axis of size 2 or 10 is slow on the CPU (≈ 3× faster forward and backward here). Agrees
    with the KL form to rounding (tests).
    """
    off = (1.0 - p_d) / (C - 1)
    xs = logits.movedim(-1, 0).contiguous()  # (C, ..., D)
    onehot = torch.nn.functional.one_hot(y, C).T.to(xs.dtype).reshape(C, *([1] * (xs.dim() - 2)), -1)
    mx = xs.amax(0).detach()
    lse = mx + (xs - mx).exp().sum(0).log()
    qx = off * xs.sum(0) + (p_d - off) * (xs * onehot).sum(0)
    return (lse - qx).mean(-1) - target_entropy(C, p_d)


def stack_losses(stack: ResNetStack, x0: torch.Tensor, y: torch.Tensor, *, C: int, p_d: float) -> torch.Tensor:
    """L_k^m = mean_i ℓ̃_f(x_k^i[:C], y^i) for every layer and network: shape ``(N + 1, M)``."""
    return stage_losses_fast(stack.logits(x0, C), y, C=C, p_d=p_d)


def train_stack(
    stack: ResNetStack,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    stage_cost: Sequence[bool],
    lr: Sequence[float],
    gamma: float,
    weight_decay: float,
    C: int,
    p_d: float,
    steps: int = 0,
    epochs: int = 0,
    batch_size: int = 0,
    data_seed: int = 0,
    schedule: str = "constant",
    desc: str = "training",
) -> dict[str, torch.Tensor]:
    """Train every network of ``stack`` on its OCP objective with Adam (in place).

    Full batch for ``steps`` iterations when ``batch_size`` is 0; otherwise ``epochs`` passes
    over a fresh permutation (``generator(data_seed)``) in mini-batches of ``batch_size`` (a
    last partial batch is kept). Every network sees the same batches. ``schedule`` (one of
    :data:`LR_SCHEDULES`) multiplies every network's learning rate by :func:`lr_factor` at each step.

    **Returns:** ``{"objective": (steps, M), "terminal": (steps, M)}`` (float64, CPU): each
    network's objective and its terminal loss L_{N_m} at every step, before the update.
    """
    device = stack.theta.device
    weights = objective_weights(stack.depths, stage_cost, gamma, dtype=stack.theta.dtype, device=device)
    depth_index = torch.tensor(stack.depths, device=device)
    base_lr = _per_network(stack, lr)
    opt = FlatAdam(stack.theta, stack.grad, lr=base_lr, weight_decay=weight_decay, segments=stack.segments())
    x, y = x.to(device, stack.theta.dtype), y.to(device)
    D = len(y)
    if batch_size <= 0 or batch_size >= D:
        batches = ((None for _ in range(steps)), steps)
    else:
        gen = generator(data_seed)
        per_epoch = math.ceil(D / batch_size)

        def _batches():
            for _ in range(epochs):
                perm = torch.randperm(D, generator=gen).to(device)
                for i in range(per_epoch):
                    yield perm[i * batch_size : (i + 1) * batch_size]

        batches = (_batches(), epochs * per_epoch)
    # preallocated: one small tensor kept per step would pin the allocator's memory (RSS grew ~0.4 MB per step)
    objective = torch.empty(batches[1], stack.M, dtype=stack.theta.dtype, device=device)
    terminal = torch.empty_like(objective)
    arange = torch.arange(stack.M, device=device)
    lr_factor(schedule, 0, 1)  # an unknown schedule fails before any step
    for t, idx in enumerate(progress(batches[0], desc=desc, total=batches[1])):
        if schedule != "constant":
            opt.scale = lr_factor(schedule, t, batches[1])
        xb, yb = (x, y) if idx is None else (x[idx], y[idx])
        L = stack_losses(stack, xb, yb, C=C, p_d=p_d)
        per_net = (weights * L).sum(0)
        stack.backward(per_net.sum())
        opt.step()
        # summed in layer order by a scan, so a network's history is the same bits whatever else is in the stack
        # (a reduction's order depends on the number of networks; the gradient does not)
        objective[t] = (weights * L.detach()).cumsum(0)[-1]
        terminal[t] = L.detach()[depth_index, arange]
    return {
        "objective": objective.double().cpu(),
        "terminal": terminal.double().cpu(),
    }


@torch.no_grad()
def layer_metrics(
    stack: ResNetStack,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    C: int,
    p_d: float,
    chunk: int = 4096,
    keep: int = 0,
) -> dict[str, Any]:
    """Per-layer measurements of every network on one data set, layers k = 0..N (book/methods.md#p1-measures).

    **Returns** (float64, CPU; layer k > N_m repeats x_{N_m}):

    * ``loss`` L_k, ``acc`` acc_k (argmax of x_k[:C]), ``dist`` d_k = RMS_i dist(x_k^i, X⋆_{y^i})
      (Lemma 6), all of shape ``(M, N + 1)``;
    * ``move`` RMS_i ‖x_{k+1}^i[:C] − x_k^i[:C]‖, shape ``(M, N)``;
    * ``states`` x_k^i[:keep] for every layer, shape ``(N + 1, M, D, keep)``, when ``keep`` > 0.
    """
    device = stack.theta.device
    dtype = stack.theta.dtype
    D = len(y)
    loss = torch.zeros(stack.N + 1, stack.M, dtype=torch.float64)
    acc = torch.zeros_like(loss)
    dist2 = torch.zeros_like(loss)
    move2 = torch.zeros(stack.N, stack.M, dtype=torch.float64)
    kept = []
    for start in range(0, D, chunk):
        xb = x[start : start + chunk].to(device, dtype)
        yb = y[start : start + chunk].to(device)
        prev = None
        keep_layers = []
        for k, state in enumerate(stack.states(xb)):
            logits = state[..., :C]
            yy = yb.expand(logits.shape[:-1])
            loss[k] += soft_cross_entropy(logits, yy, p_d=p_d, C=C).double().sum(-1).cpu()
            acc[k] += (logits.argmax(-1) == yy).double().sum(-1).cpu()
            dist2[k] += (distance_to_minimiser_set(logits, yy, p_d=p_d, C=C).double() ** 2).sum(-1).cpu()
            if prev is not None:
                move2[k - 1] += ((logits - prev).double() ** 2).sum(-1).sum(-1).cpu()
            prev = logits
            if keep:
                keep_layers.append(state[..., :keep].double().cpu())
        if keep:
            kept.append(torch.stack(keep_layers))
    out: dict[str, Any] = {
        "loss": (loss / D).T.contiguous(),
        "acc": (acc / D).T.contiguous(),
        "dist": (dist2 / D).sqrt().T.contiguous(),
        "move": (move2 / D).sqrt().T.contiguous(),
    }
    if keep:
        out["states"] = torch.cat(kept, dim=2)
    return out


def network_spec(
    *, label: str, role: str, depth: int, stage_cost: bool, lr: float, seed: int, seed_index: int
) -> dict[str, Any]:
    """One network of a figure, as :func:`train_and_measure` takes it (and as a unit's ``net`` field).

    **Arguments:** ``label`` for tables and legends; ``role`` the figure's name for its group
    (e.g. ``"stage_cost"``, ``"without"``, ``"lr_paper"``); ``depth`` N; ``stage_cost`` whether the
    objective is (5) with the stage cost (17) or γ·L_N only; ``lr`` Adam's learning rate; ``seed``
    its initialisation; ``seed_index`` which of the figure's initialisations it is (0, 1, …).
    """
    return {
        "label": label,
        "role": role,
        "depth": depth,
        "stage_cost": stage_cost,
        "lr": lr,
        "seed": seed,
        "seed_index": seed_index,
    }


def train_and_measure(
    nets: Sequence[dict[str, Any]],
    data: dict[str, torch.Tensor],
    *,
    n: int,
    width: int,
    activation: str,
    C: int,
    p_d: float,
    gamma: float,
    weight_decay: float,
    eps_required: float,
    eps_turnpike: float,
    steps: int = 0,
    epochs: int = 0,
    batch_size: int = 0,
    data_seed: int = 0,
    schedule: str = "constant",
    keep: int = 0,
    keep_nets: Sequence[int] = (),
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    desc: str = "training",
) -> list[dict[str, Any]]:
    """Train the networks ``nets`` together (one :class:`ResNetStack`) and measure each of them.

    **Arguments:** ``nets`` dicts with ``depth``, ``stage_cost``, ``lr``, ``seed`` (and anything
    else, copied through; :func:`network_spec` makes them); ``data`` with ``x_train``, ``y_train``,
    ``x_test``, ``y_test``; the rest as in :func:`train_stack` and :func:`layer_metrics`. ``keep``
    state components are kept for the training set of the networks whose indices are in ``keep_nets``.

    **Returns:** one plain dict per network, in the order given (a unit's result, cacheable): the
    fields of :class:`NetworkRecord` under the same names, with the curves and crops as dicts
    (``NetworkRecord.from_unit`` makes the typed record).
    """
    order = sorted(range(len(nets)), key=lambda i: -nets[i]["depth"])  # stable: non-increasing depth
    specs = [nets[i] for i in order]
    stack = ResNetStack(
        [s["depth"] for s in specs],
        [s["seed"] for s in specs],
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
        stage_cost=[s["stage_cost"] for s in specs],
        lr=[s["lr"] for s in specs],
        gamma=gamma,
        weight_decay=weight_decay,
        C=C,
        p_d=p_d,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        data_seed=data_seed,
        schedule=schedule,
        desc=desc,
    )
    pos = {i: j for j, i in enumerate(order)}
    keep_pos = [pos[i] for i in keep_nets]
    metrics = {}
    for split in ("train", "test"):
        metrics[split] = layer_metrics(
            stack,
            data[f"x_{split}"],
            data[f"y_{split}"],
            C=C,
            p_d=p_d,
            keep=keep if split == "train" and keep_pos else 0,
        )
    measured = _Measured(stack, metrics, stack.control_norms(), history, data, C, p_d, eps_required, eps_turnpike)
    return [_unit_record(measured, pos[i], spec, keep_states=pos[i] in keep_pos) for i, spec in enumerate(nets)]


@dataclasses.dataclass(frozen=True)
class _Measured:
    """What :func:`train_and_measure` has, after training, for cutting out one network's record."""

    stack: ResNetStack
    metrics: dict[str, dict[str, Any]]  # layer_metrics of the training and the test set
    u: torch.Tensor  # ResNetStack.control_norms(), (M, N)
    history: dict[str, torch.Tensor]  # train_stack's histories, (steps, M)
    data: dict[str, torch.Tensor]
    C: int
    p_d: float
    eps_required: float
    eps_turnpike: float


def _unit_record(m: _Measured, j: int, spec: dict[str, Any], *, keep_states: bool) -> dict[str, Any]:
    """Network ``spec`` (position ``j`` in the stack) as a plain dict: its :func:`network_spec` fields,
    its curves on both sets trimmed to its depth, their turnpike numbers (:class:`CurveSummary` as a
    dict), ‖u_k‖, the training histories, the states if kept, and the two crops (:func:`_crop`)."""
    depth = spec["depth"]
    rec: dict[str, Any] = dict(spec)
    rec.update(network_curves(m.metrics, j, depth, eps_required=m.eps_required, eps_turnpike=m.eps_turnpike))
    rec["u_norm"] = m.u[j, :depth].clone()
    rec["history_objective"] = m.history["objective"][:, j].clone()
    rec["history_terminal"] = m.history["terminal"][:, j].clone()
    rec["n_parameters"] = m.stack.num_parameters(j)
    if keep_states:
        rec["states"] = m.metrics["train"]["states"][: depth + 1, j].clone()
    rec["crop"] = _crop(m.stack, j, rec["train_summary"]["k_star"], m.data, C=m.C, p_d=m.p_d)
    rec["crop_abs"] = _crop(m.stack, j, rec["train_summary"]["k_star_abs"], m.data, C=m.C, p_d=m.p_d)
    return rec


def network_curves(
    metrics: dict[str, dict[str, Any]], j: int, depth: int, *, eps_required: float, eps_turnpike: float
) -> dict[str, Any]:
    """Network ``j``'s curves of :func:`layer_metrics` on both sets (``metrics["train"]``, ``["test"]``),
    trimmed to its ``depth``, and their turnpike numbers (:class:`CurveSummary` as a dict):
    ``{"train": {loss, acc, dist, move}, "train_summary": {...}, "test": ..., "test_summary": ...}``."""
    out: dict[str, Any] = {}
    for split in ("train", "test"):
        mt = metrics[split]
        curves = {key: mt[key][j, : depth + 1].clone() for key in ("loss", "acc", "dist")}
        curves["move"] = mt["move"][j, :depth].clone()
        summary = curve_summary(
            curves["loss"], curves["acc"], curves["dist"], eps_required=eps_required, eps_turnpike=eps_turnpike
        )
        out[split], out[f"{split}_summary"] = curves, dataclasses.asdict(summary)
    return out


@torch.no_grad()
def _crop(stack: ResNetStack, j: int, k: int, data: dict[str, torch.Tensor], *, C: int, p_d: float) -> dict[str, Any]:
    """Test accuracy and loss of network j cropped after k blocks (a real ``ResNetOC``, ``upto=k``)."""
    net = stack.to_resnet_oc(j)
    x = data["x_test"].to(stack.theta.device, stack.theta.dtype)
    y = data["y_test"].to(stack.theta.device)
    cropped = net(x, upto=k)[-1]
    full = None
    for kk, state in enumerate(stack.states(x)):
        if kk == k:
            full = state[j]
            break
    return {
        "k": k,
        "test_acc": float((cropped[:, :C].argmax(-1) == y).double().mean()),
        "test_loss": float(soft_cross_entropy(cropped, y, p_d=p_d, C=C).double().mean()),
        "max_state_diff": float((cropped - full).abs().max()),
    }


# -- the typed records a figure's finish makes from the unit dicts -----------------------------
@dataclasses.dataclass(frozen=True)
class LayerCurves:
    """Per-layer measurements of one network of depth N on one data set (:func:`layer_metrics`).

    All float64 on the CPU (book/methods.md#p1-measures):

    * ``loss`` — L_k = mean_i ℓ̃_f(x_k^i[:C], y^i) (eq. 13), shape ``(N + 1,)``;
    * ``acc`` — acc_k, the accuracy of argmax x_k[:C], shape ``(N + 1,)``;
    * ``dist`` — d_k = RMS_i dist(x_k^i, X⋆_{y^i}) (Lemma 6), shape ``(N + 1,)``;
    * ``move`` — RMS_i ‖x_{k+1}^i[:C] − x_k^i[:C]‖ for k = 0..N−1, shape ``(N,)``.
    """

    loss: torch.Tensor
    acc: torch.Tensor
    dist: torch.Tensor
    move: torch.Tensor


@dataclasses.dataclass(frozen=True)
class Crop:
    """The network cropped after ``k`` blocks (a plain ``ResNetOC``, ``forward(x_test, upto=k)``).

    * ``k`` — where it is cropped (k⋆ or k⋆_abs of the training loss);
    * ``test_acc``, ``test_loss`` — the cropped network's test accuracy and mean soft CE;
    * ``max_state_diff`` — max |x_k(cropped) − x_k(full pass of the stack)| (rounding only).
    """

    k: int
    test_acc: float
    test_loss: float
    max_state_diff: float


@dataclasses.dataclass(frozen=True)
class NetworkRecord:
    """One trained network of depth N and its measurements (one unit of a ``NetworkPlan``).

    * ``label``, ``role``, ``depth`` (N), ``stage_cost``, ``lr``, ``seed``, ``seed_index`` — its
      spec (:func:`network_spec`);
    * ``n_parameters`` — the number of parameters, N·(2·n·width + width + n);
    * ``train``, ``test`` — its :class:`LayerCurves` on the training and the test set;
    * ``train_summary``, ``test_summary`` — their
      :class:`~lossdyn.dissipativity.turnpike.CurveSummary` (k⋆, k⋆_abs, k⋆_acc, #Q̄_ε);
    * ``u_norm`` — ‖u_k‖₂ of the four tensors of block k, shape ``(N,)``, float64;
    * ``crop``, ``crop_abs`` — the :class:`Crop` after k⋆ and after k⋆_abs (training loss);
    * ``history_objective``, ``history_terminal`` — its objective and terminal loss L_N at every
      training step, before the update, shape ``(steps,)``, float64 (None where the figure drops them);
    * ``states`` — x_k^i[:keep] on the training set, shape ``(N + 1, D, keep)``, float64, or None
      where the figure did not keep them.
    """

    label: str
    role: str
    depth: int
    stage_cost: bool
    lr: float
    seed: int
    seed_index: int
    n_parameters: int
    train: LayerCurves
    test: LayerCurves
    train_summary: CurveSummary
    test_summary: CurveSummary
    u_norm: torch.Tensor
    crop: Crop
    crop_abs: Crop
    history_objective: torch.Tensor | None = None
    history_terminal: torch.Tensor | None = None
    states: torch.Tensor | None = None

    @classmethod
    def from_unit(cls, rec: dict[str, Any]) -> NetworkRecord:
        """The typed record of one of :func:`train_and_measure`'s dicts (made by :func:`network_spec`)."""
        return cls(
            label=rec["label"],
            role=rec["role"],
            depth=rec["depth"],
            stage_cost=rec["stage_cost"],
            lr=rec["lr"],
            seed=rec["seed"],
            seed_index=rec["seed_index"],
            n_parameters=rec["n_parameters"],
            train=LayerCurves(**rec["train"]),
            test=LayerCurves(**rec["test"]),
            train_summary=CurveSummary(**rec["train_summary"]),
            test_summary=CurveSummary(**rec["test_summary"]),
            u_norm=rec["u_norm"],
            crop=Crop(**rec["crop"]),
            crop_abs=Crop(**rec["crop_abs"]),
            history_objective=rec.get("history_objective"),
            history_terminal=rec.get("history_terminal"),
            states=rec.get("states"),
        )
