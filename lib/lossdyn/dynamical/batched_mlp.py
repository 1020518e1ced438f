"""Many one-hidden-layer ReLU MLPs d → H → C as one batched tensor program (Paper 2's network:
"one hidden layer of width 100", Fig. 3 caption; "fully connected NN", Fig. 4 caption).

Layout (book/methods.md#p2-trainer): a leading ensemble axis S and samples last (feature-major),
so the 3-wide output products take MKL's fast path:

    θ (S, P) flat, P = dH + H + CH + C, in the order W1 (H, d), b1 (H), W2 (C, H), b2 (C)
    (the order of ``nn.Sequential(Linear(d, H), ReLU(), Linear(H, C)).parameters()``);
    X (d, N), Z = W1 X + b1 (S, H, N), A = relu(Z), O = W2 A + b2 (S, C, N).

The gradient and the Hessian-vector product are written out by hand (the R-operator of
Pearlmutter 1994; book/methods.md#p2-curvature), for any loss of :mod:`lossdyn.dynamical.losses`:

    dO = ∂F/∂O,  gW2 = dO Aᵀ,  gb2 = Σ_μ dO,  dZ = (W2ᵀ dO) ⊙ 1[Z > 0],  gW1 = dZ Xᵀ,  gb1 = Σ_μ dZ;
    RZ = V1 X + c1,  RA = RZ ⊙ 1[Z > 0],  RO = V2 A + W2 RA + c2,  RdO = (∂²F/∂O²) RO,
    Hv_W2 = RdO Aᵀ + dO RAᵀ,  Hv_b2 = Σ_μ RdO,  RdZ = (V2ᵀ dO + W2ᵀ RdO) ⊙ 1[Z > 0],
    Hv_W1 = RdZ Xᵀ,  Hv_b1 = Σ_μ RdZ.

ReLU has σ'' = 0 away from the kink, so this is exactly what autograd's double backward gives.

Init (the authors' JAX code: ``glorot_normal`` + ``normal(1e-2)``, book/methods.md#p2-data-init):
W ~ truncated normal at ±2σ with final std √(2/(fan_in + fan_out)); b ~ N(0, 0.01²). Each model
draws from its own generator.

:meth:`BatchedMLP.gd_step_fn` fuses one step of full-batch gradient descent
θ ← θ − η ∇_θ F(θ, t) (forward, loss parts and ∂F/∂O, backward, in-place update) for the
ensemble trainer (book/methods.md#p2-trainer).
"""

from __future__ import annotations

import dataclasses

import torch

from lossdyn.dynamical import losses as dl

__all__ = ["BatchedMLP", "glorot_init", "n_params", "unflatten"]

#: std of a standard normal truncated to [−2, 2] (JAX divides by it so the final std is exact).
TRUNC_STD = 0.87962566103423978


def n_params(H: int, d: int = 2, C: int = 3) -> int:
    return d * H + H + C * H + C


def unflatten(theta: torch.Tensor, H: int, d: int = 2, C: int = 3):
    """Views ``(W1 (S,H,d), b1 (S,H,1), W2 (S,C,H), b2 (S,C,1))`` into a flat ``θ`` of shape (S, P)."""
    S = theta.shape[0]
    i1, i2, i3 = d * H, d * H + H, d * H + H + C * H
    return (
        theta[:, :i1].view(S, H, d),
        theta[:, i1:i2].view(S, H, 1),
        theta[:, i2:i3].view(S, C, H),
        theta[:, i3:].view(S, C, 1),
    )


def glorot_init(H: int, generator: torch.Generator, d: int = 2, C: int = 3) -> torch.Tensor:
    """One model's flat θ (float64, CPU): truncated Glorot-normal weights, N(0, 0.01²) biases."""
    parts = []
    for fan_in, fan_out in ((d, H), (H, C)):
        s = (2.0 / (fan_in + fan_out)) ** 0.5 / TRUNC_STD
        W = torch.empty(fan_out, fan_in, dtype=torch.float64)
        torch.nn.init.trunc_normal_(W, std=s, a=-2 * s, b=2 * s, generator=generator)
        b = torch.empty(fan_out, dtype=torch.float64).normal_(0.0, 0.01, generator=generator)
        parts += [W.flatten(), b]
    return torch.cat(parts)


@dataclasses.dataclass
class BatchedMLP:
    """Data, loss and width shared by an ensemble; the parameters θ (S, P) are passed in.

    ``X`` is (N, d) (stored feature-major), ``y`` (N,) int labels; ``family``/``weighting`` pick the
    loss (:data:`lossdyn.dynamical.losses.FAMILIES`, :data:`~lossdyn.dynamical.losses.WEIGHTINGS`).
    """

    X: torch.Tensor
    y: torch.Tensor
    H: int
    family: str
    weighting: str = "sample_class"
    C: int = 3

    def __post_init__(self) -> None:
        self.d = self.X.shape[1]
        self.N = self.X.shape[0]
        self.Xf = self.X.T.contiguous()  # (d, N)
        self.Y = torch.nn.functional.one_hot(self.y, self.C).to(self.X.dtype).T.contiguous()  # (C, N)
        self.P = n_params(self.H, self.d, self.C)
        if self.family not in dl.FAMILIES:
            raise ValueError(f"unknown family {self.family!r}")

    def _Xs(self, theta: torch.Tensor) -> torch.Tensor:
        return self.Xf.expand(theta.shape[0], *self.Xf.shape)

    def views(self, theta: torch.Tensor):
        return unflatten(theta, self.H, self.d, self.C)

    # -- forward ----------------------------------------------------------------------------
    def forward(self, theta: torch.Tensor, X: torch.Tensor | None = None):
        """``(Z, A, O)`` on the training set (or on ``X`` (N', d))."""
        W1, b1, W2, b2 = self.views(theta)
        Xf = self.Xf if X is None else X.T.contiguous()
        Z = torch.baddbmm(b1, W1, Xf.expand(theta.shape[0], *Xf.shape))
        A = torch.relu(Z)
        O = torch.baddbmm(b2, W2, A)
        return Z, A, O

    def logits(self, theta: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward(theta, X)[2]

    def accuracy(
        self, theta: torch.Tensor, X: torch.Tensor | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Fraction of correct argmax predictions per model, (S,)."""
        O = self.logits(theta, X)
        y = self.y if y is None else y
        return (O.argmax(1) == y).to(torch.float64).mean(-1)

    def loss(self, theta: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        """F(θ, t) per model, (S,), with Γ(t) = ``G`` (S, C)."""
        K, R = dl.components(self.logits(theta), self.Y, self.family, self.weighting)
        return (G.to(K.dtype) * K).sum(-1) + R

    # -- gradient ---------------------------------------------------------------------------
    def backward(self, theta: torch.Tensor, Z: torch.Tensor, A: torch.Tensor, dO: torch.Tensor):
        """``(gW1, gb1, gW2, gb2)`` from the output gradient ``dO`` (S, C, N)."""
        return _backward(self.views(theta)[2], self._Xs(theta), Z, A, dO)

    def grad(self, theta: torch.Tensor, G: torch.Tensor):
        """``(F (S,), ∇F (S, P))`` at Γ = ``G`` (S, C)."""
        Z, A, O = self.forward(theta)
        G = G.to(theta.dtype)
        K, R = dl.components(O, self.Y, self.family, self.weighting)
        dO = dl.dlogits(O, self.Y, G, self.family, self.weighting)
        parts = self.backward(theta, Z, A, dO)
        return (G * K).sum(-1) + R, torch.cat([p.flatten(1) for p in parts], 1)

    # -- one step of gradient descent (the ensemble trainer's inner loop) ------------------------
    def gd_step_fn(self, theta: torch.Tensor, neta: torch.Tensor):
        """A function ``step(W, K_out, R_out)`` doing θ ← θ + ``neta`` ⊙ ∇_θ F(θ, t) in place on ``theta`` (S, P).

        ``neta`` (S, 1, 1) holds −η per model (set an entry to 0 to freeze a model; read at every
        step); ``W`` is :func:`lossdyn.dynamical.losses.dlogit_weights` at Γ(t). The step writes the
        unscaled loss parts of θ_t (before the update) into ``K_out`` (S, C) and ``R_out`` (S,)
        (:func:`lossdyn.dynamical.losses.fused_parts_`). The views of ``theta`` are taken once, so
        ``theta`` must be updated in place only.
        """
        W1, b1, W2, b2 = self.views(theta)
        Xs = self._Xs(theta)

        def step(W: torch.Tensor, K_out: torch.Tensor, R_out: torch.Tensor) -> None:
            Z = torch.baddbmm(b1, W1, Xs)
            A = torch.relu(Z)
            O = torch.baddbmm(b2, W2, A)
            dO = dl.fused_parts_(O, self.Y, W, self.family, self.weighting, K_out, R_out)
            gW1, gb1, gW2, gb2 = _backward(W2, Xs, Z, A, dO)
            W1.addcmul_(gW1, neta)
            b1.addcmul_(gb1, neta)
            W2.addcmul_(gW2, neta)
            b2.addcmul_(gb2, neta)

        return step

    # -- Hessian-vector products --------------------------------------------------------------
    def hvp_fn(self, theta: torch.Tensor, G: torch.Tensor):
        """A function V (S, P) → ∇²F(θ, Γ) V (S, P), with the forward quantities cached once per θ."""
        W1, b1, W2, b2 = self.views(theta)
        G = G.to(theta.dtype)
        Z, A, O = self.forward(theta)
        mask = (Z > 0).to(theta.dtype)
        P = torch.softmax(O, dim=1) if self.family == "ce" else None
        dO = dl.dlogits(O, self.Y, G, self.family, self.weighting, P=P)
        W2T = W2.transpose(1, 2)
        AT = A.transpose(1, 2)
        Xs = self._Xs(theta)

        def hvp(V: torch.Tensor) -> torch.Tensor:
            V1, c1, V2, c2 = self.views(V)
            RA = torch.baddbmm(c1, V1, Xs).mul_(mask)
            RO = torch.baddbmm(c2, V2, A).baddbmm_(W2, RA)
            RdO = dl.rop_dlogits(O, self.Y, G, RO, self.family, self.weighting, P=P)
            HW2 = torch.bmm(RdO, AT).baddbmm_(dO, RA.transpose(1, 2))
            Hb2 = RdO.sum(-1, keepdim=True)
            RdZ = torch.bmm(V2.transpose(1, 2), dO).baddbmm_(W2T, RdO).mul_(mask)
            HW1 = torch.bmm(Xs, RdZ.transpose(1, 2)).transpose(1, 2)
            Hb1 = RdZ.sum(-1, keepdim=True)
            return torch.cat([p.flatten(1) for p in (HW1, Hb1, HW2, Hb2)], 1)

        return hvp

    # -- reference (tests, benchmark) -----------------------------------------------------------
    def module(self, theta_one: torch.Tensor) -> torch.nn.Sequential:
        """An ``nn.Sequential`` holding one model's parameters (the autograd oracle)."""
        net = torch.nn.Sequential(torch.nn.Linear(self.d, self.H), torch.nn.ReLU(), torch.nn.Linear(self.H, self.C))
        net = net.to(dtype=theta_one.dtype, device=theta_one.device)
        torch.nn.utils.vector_to_parameters(theta_one.detach().clone(), net.parameters())
        return net

    def reference_loss(self, logits_nc: torch.Tensor, G_c: torch.Tensor) -> torch.Tensor:
        """F on logits (N, C) with Γ (C,) via the reference functions of :mod:`~lossdyn.dynamical.losses`."""
        if self.family == "ce":
            return dl.dynamical_cross_entropy(logits_nc, self.y, G_c)
        return dl.dynamical_mse(logits_nc, self.y, G_c, self.weighting)


def _backward(W2: torch.Tensor, Xs: torch.Tensor, Z: torch.Tensor, A: torch.Tensor, dO: torch.Tensor):
    """``(gW1, gb1, gW2, gb2)``: dZ = (W2ᵀ dO) ⊙ 1[Z > 0], gW2 = dO Aᵀ, gW1 = dZ Xᵀ (module docstring)."""
    gW2 = torch.bmm(dO, A.transpose(1, 2))
    gb2 = dO.sum(-1, keepdim=True)
    dZ = torch.ops.aten.threshold_backward(torch.bmm(W2.transpose(1, 2), dO), Z, 0.0)  # ⊙ 1[Z > 0]
    gW1 = torch.bmm(Xs, dZ.transpose(1, 2)).transpose(1, 2)  # wide output (S, d, H): MKL's fast path
    gb1 = dZ.sum(-1, keepdim=True)
    return gW1, gb1, gW2, gb2
