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
ensemble trainer (book/methods.md#p2-trainer): on CPU by default a small C++ kernel
(:data:`FUSED_SOURCE`, compiled once per machine) that never stores the (S, H, N) activations, on
CUDA the tensor program replayed from a CUDA graph, and the plain tensor program with
``LOSSDYN_COMPILE=0``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import os
import platform
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from lossdyn.dynamical import losses as dl

__all__ = ["FUSED_SOURCE", "BatchedMLP", "compile_enabled", "glorot_init", "n_params", "step_path", "unflatten"]

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
        (:func:`lossdyn.dynamical.losses.fused_parts_`). ``theta`` must be updated in place only.

        Three forms of the same step (book/methods.md#p2-trainer), chosen by :func:`step_path`: on CPU the
        compiled kernel :data:`FUSED_SOURCE` around ``fused_parts_``; on CUDA the eager tensor program
        captured once in a CUDA graph; else (``LOSSDYN_COMPILE=0``, no compiler, other shapes) the eager
        tensor program itself.
        """
        path = step_path(self, theta)
        if path == "fused" and neta.dtype == theta.dtype and neta.is_contiguous() and neta.numel() == len(theta):
            return self._fused_step(theta, neta)
        step = self._eager_step(theta, neta)
        return _cuda_graphed(step, theta) if path == "cuda_graph" else step  # "eager", or a fused misfit

    def _eager_step(self, theta: torch.Tensor, neta: torch.Tensor):
        """The step as a tensor program: baddbmm forward, ``fused_parts_``, :func:`_backward`, addcmul_."""
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

    def _fused_step(self, theta: torch.Tensor, neta: torch.Tensor):
        """The step by the compiled kernel: forward into one (S, C, N) buffer, ``fused_parts_``, backward+update."""
        lib = _fused_library()
        suffix = "f32" if theta.dtype == torch.float32 else "f64"
        forward, backward = getattr(lib, f"forward_{suffix}"), getattr(lib, f"backward_{suffix}")
        O = torch.empty(theta.shape[0], self.C, self.N, dtype=theta.dtype)
        dims = (theta.shape[0], self.H, self.N, self.P)
        p_theta, p_X, p_O, p_neta = theta.data_ptr(), self.Xf.data_ptr(), O.data_ptr(), neta.data_ptr()

        def step(W: torch.Tensor, K_out: torch.Tensor, R_out: torch.Tensor) -> None:
            forward(*dims, p_theta, p_X, p_O)
            dO = dl.fused_parts_(O, self.Y, W, self.family, self.weighting, K_out, R_out).contiguous()
            backward(*dims, p_theta, p_X, dO.data_ptr(), p_neta)

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


# -- the fused CPU step: one C++ kernel per pass (book/methods.md#p2-trainer) --------------------------------------
#: The forward pass O = W2 relu(W1 X + b1) + b2, and the backward pass with the in-place update, for d = 2, C = 3,
#: one model after the other. Nothing of size H × N is stored: each pre-activation z_jμ = W1_j0 x_0μ + W1_j1 x_1μ
#: + b1_j is rebuilt in registers in both passes, so a model's work stays in L1/L2 whatever the chunk. The forward
#: is vectorised over samples μ, the backward over hidden units j (so its sums over μ need no horizontal
#: reduction); every sum runs in a fixed order (over j for O, over μ for the gradients), so a model's result is the
#: same bits whatever other models share its batch. Built once per machine by :func:`_fused_library`
#: (``LOSSDYN_COMPILE=0`` keeps the eager tensor program).
FUSED_SOURCE = r"""
#include <cstdint>
// O_cμ = b2_c + Σ_j W2_cj relu(W1_j0 x_0μ + W1_j1 x_1μ + b1_j), summed in the order j = 0, 1, …, H − 1.
// Vectorised over μ; four hidden units per pass over μ keep O in registers (same order of the sums).
template <typename T>
static void forward(int64_t S, int64_t H, int64_t N, int64_t P, const T* __restrict theta,
                    const T* __restrict X, T* __restrict O) {
  const T* x0 = X;
  const T* x1 = X + N;
  for (int64_t s = 0; s < S; ++s) {
    const T* th = theta + s * P;
    const T *W1 = th, *b1 = th + 2 * H, *W2 = th + 3 * H, *b2 = th + 6 * H;
    T* __restrict o0 = O + s * 3 * N;
    T* __restrict o1 = o0 + N;
    T* __restrict o2 = o1 + N;
    for (int64_t n = 0; n < N; ++n) { o0[n] = b2[0]; o1[n] = b2[1]; o2[n] = b2[2]; }
    int64_t j = 0;
    for (; j + 4 <= H; j += 4) {
      T w0[4], w1[4], c[4], v0[4], v1[4], v2[4];
      for (int k = 0; k < 4; ++k) {
        w0[k] = W1[2 * (j + k)]; w1[k] = W1[2 * (j + k) + 1]; c[k] = b1[j + k];
        v0[k] = W2[j + k]; v1[k] = W2[H + j + k]; v2[k] = W2[2 * H + j + k];
      }
      for (int64_t n = 0; n < N; ++n) {
        T p0 = o0[n], p1 = o1[n], p2 = o2[n];
        for (int k = 0; k < 4; ++k) {
          const T z = w0[k] * x0[n] + w1[k] * x1[n] + c[k];
          const T a = z > 0 ? z : T(0);
          p0 += v0[k] * a; p1 += v1[k] * a; p2 += v2[k] * a;
        }
        o0[n] = p0; o1[n] = p1; o2[n] = p2;
      }
    }
    for (; j < H; ++j) {
      const T w0 = W1[2 * j], w1 = W1[2 * j + 1], c = b1[j];
      const T v0 = W2[j], v1 = W2[H + j], v2 = W2[2 * H + j];
      for (int64_t n = 0; n < N; ++n) {
        const T z = w0 * x0[n] + w1 * x1[n] + c;
        const T a = z > 0 ? z : T(0);
        o0[n] += v0 * a; o1[n] += v1 * a; o2[n] += v2 * a;
      }
    }
  }
}
// θ ← θ + neta_s ∇θ (neta = −η) with dZ = (W2ᵀ dO) ⊙ 1[Z > 0], gW1 = dZ Xᵀ, gb1 = Σ_μ dZ, gW2 = dO Aᵀ,
// gb2 = Σ_μ dO. Vectorised over L hidden units at a time (lanes past H hold zeros and are not written);
// every sum over μ runs in the order μ = 0, 1, …, N − 1.
template <typename T, int L>
static void backward(int64_t S, int64_t H, int64_t N, int64_t P, T* __restrict theta, const T* __restrict X,
                     const T* __restrict dO, const T* __restrict neta) {
  const T* x0 = X;
  const T* x1 = X + N;
  for (int64_t s = 0; s < S; ++s) {
    T* th = theta + s * P;
    T *W1 = th, *b1 = th + 2 * H, *W2 = th + 3 * H, *b2 = th + 6 * H;
    const T e = neta[s];
    const T *d0 = dO + s * 3 * N, *d1 = d0 + N, *d2 = d1 + N;
    for (int64_t j0 = 0; j0 < H; j0 += L) {
      const int64_t nj = H - j0 < L ? H - j0 : L;
      T w0[L] = {}, w1[L] = {}, c[L] = {}, v0[L] = {}, v1[L] = {}, v2[L] = {};
      for (int64_t k = 0; k < nj; ++k) {
        w0[k] = W1[2 * (j0 + k)]; w1[k] = W1[2 * (j0 + k) + 1]; c[k] = b1[j0 + k];
        v0[k] = W2[j0 + k]; v1[k] = W2[H + j0 + k]; v2[k] = W2[2 * H + j0 + k];
      }
      T g0[L] = {}, g1[L] = {}, gb[L] = {}, u0[L] = {}, u1[L] = {}, u2[L] = {};
      for (int64_t n = 0; n < N; ++n) {
        const T xa = x0[n], xb = x1[n], da = d0[n], db = d1[n], dc = d2[n];
        for (int l = 0; l < L; ++l) {
          const T z = w0[l] * xa + w1[l] * xb + c[l];
          const T a = z > 0 ? z : T(0);
          const T dz = z > 0 ? v0[l] * da + v1[l] * db + v2[l] * dc : T(0);
          g0[l] += dz * xa; g1[l] += dz * xb; gb[l] += dz;
          u0[l] += da * a; u1[l] += db * a; u2[l] += dc * a;
        }
      }
      for (int64_t k = 0; k < nj; ++k) {
        W1[2 * (j0 + k)] += e * g0[k]; W1[2 * (j0 + k) + 1] += e * g1[k]; b1[j0 + k] += e * gb[k];
        W2[j0 + k] += e * u0[k]; W2[H + j0 + k] += e * u1[k]; W2[2 * H + j0 + k] += e * u2[k];
      }
    }
    T q0 = 0, q1 = 0, q2 = 0;
    for (int64_t n = 0; n < N; ++n) { q0 += d0[n]; q1 += d1[n]; q2 += d2[n]; }
    b2[0] += e * q0; b2[1] += e * q1; b2[2] += e * q2;
  }
}
extern "C" {
void forward_f32(int64_t S, int64_t H, int64_t N, int64_t P, const float* th, const float* X, float* O) {
  forward<float>(S, H, N, P, th, X, O);
}
void forward_f64(int64_t S, int64_t H, int64_t N, int64_t P, const double* th, const double* X, double* O) {
  forward<double>(S, H, N, P, th, X, O);
}
void backward_f32(int64_t S, int64_t H, int64_t N, int64_t P, float* th, const float* X, const float* dO,
                  const float* neta) {
  backward<float, 16>(S, H, N, P, th, X, dO, neta);
}
void backward_f64(int64_t S, int64_t H, int64_t N, int64_t P, double* th, const double* X, const double* dO,
                  const double* neta) {
  backward<double, 8>(S, H, N, P, th, X, dO, neta);
}
}
"""
#: g++ flags: the host's vector unit (the library is built per machine), 512-bit vectors where there are any.
FUSED_FLAGS = ("-O3", "-march=native", "-mprefer-vector-width=512", "-shared", "-fPIC")
_FUSED_LIBRARY: dict[str, ctypes.CDLL | None] = {}  # this process's kernel, once loaded (None: not available)


def compile_enabled() -> bool:
    """``LOSSDYN_COMPILE`` (default 1): 0 keeps the eager tensor program on every device."""
    return os.environ.get("LOSSDYN_COMPILE", "1") != "0"


def cache_variant() -> str:
    """The form of the CPU training step on this machine, for the cache keys of the units it computes
    (:func:`lossdyn.pipeline.closure.runtime_variants`): ``"fused"`` (the compiled kernel) or ``"eager"``
    (``LOSSDYN_COMPILE=0``, or no compiler); the two agree to rounding but not bit for bit in float32."""
    return "fused" if compile_enabled() and _fused_library() is not None else "eager"


def step_path(model: BatchedMLP, theta: torch.Tensor) -> str:
    """Which form :meth:`BatchedMLP.gd_step_fn` takes for ``theta``: ``"fused"``, ``"cuda_graph"`` or ``"eager"``."""
    if not compile_enabled():
        return "eager"
    if theta.device.type == "cuda":
        return "cuda_graph"
    fits = (model.d, model.C) == (2, 3) and theta.dtype in (torch.float32, torch.float64) and theta.is_contiguous()
    fits = fits and model.Xf.dtype == theta.dtype
    return "fused" if theta.device.type == "cpu" and fits and _fused_library() is not None else "eager"


def _cpu_flags() -> str:
    """The CPU's feature flags (the library is built with ``-march=native``, so they are part of its name)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith("flags")), platform.processor())
    except OSError:
        return platform.processor()


def _fused_library() -> ctypes.CDLL | None:
    """The compiled :data:`FUSED_SOURCE`, built on first use into ``LOSSDYN_KERNEL_DIR`` (default
    ``~/.cache/lossdyn/kernels``) under a name hashing source, flags, compiler and CPU, so a build is done once
    per machine (about a second) and shared by the worker processes. ``None``, with one warning, if it cannot
    be built or loaded: the trainer then runs the eager tensor program."""
    if "lib" not in _FUSED_LIBRARY:
        try:
            _FUSED_LIBRARY["lib"] = _load_or_build()
        except (OSError, subprocess.SubprocessError) as err:
            detail = getattr(err, "stderr", "") or ""
            warnings.warn(
                f"the fused CPU step could not be built ({err} {detail[-300:]}); using the eager tensor program",
                RuntimeWarning,
                stacklevel=2,
            )
            _FUSED_LIBRARY["lib"] = None
    return _FUSED_LIBRARY["lib"]


def _load_or_build() -> ctypes.CDLL:
    cxx = os.environ.get("CXX", "g++")
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=True).stdout
    key = "\0".join([FUSED_SOURCE, *FUSED_FLAGS, version, platform.machine(), _cpu_flags()])
    root = Path(os.environ.get("LOSSDYN_KERNEL_DIR") or Path.home() / ".cache" / "lossdyn" / "kernels")
    path = root / f"fused_step_{hashlib.sha256(key.encode()).hexdigest()[:20]}.so"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            src, out = Path(tmp) / "fused_step.cpp", Path(tmp) / path.name
            src.write_text(FUSED_SOURCE)
            subprocess.run([cxx, *FUSED_FLAGS, "-o", str(out), str(src)], capture_output=True, text=True, check=True)
            os.replace(out, path)  # atomic: concurrent workers may build it at the same time
    lib = ctypes.CDLL(str(path))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for suffix in ("f32", "f64"):
        getattr(lib, f"forward_{suffix}").argtypes = [i64, i64, i64, i64, ptr, ptr, ptr]
        getattr(lib, f"forward_{suffix}").restype = None
        getattr(lib, f"backward_{suffix}").argtypes = [i64, i64, i64, i64, ptr, ptr, ptr, ptr]
        getattr(lib, f"backward_{suffix}").restype = None
    return lib


# -- CUDA: the eager step captured once in a CUDA graph ------------------------------------------------------
def _cuda_graphed(step, theta: torch.Tensor):
    """``step`` replayed from a CUDA graph: one launch per step instead of about twenty kernels.

    The graph is captured at the first call, on that call's shapes, after three warm-up steps on a side
    stream (their updates of ``theta`` are undone). It reads ``W`` from, and writes the loss parts to,
    buffers of its own; each call copies them in and out. ``theta`` and ``neta`` are read where they lie,
    so in-place changes (freezing, restoring a diverged member) are seen by the next replay.
    """
    graph: dict[str, Any] = {}

    def capture(W: torch.Tensor, K_out: torch.Tensor, R_out: torch.Tensor) -> None:
        graph["W"], graph["K"], graph["R"] = W.clone(), torch.empty_like(K_out), torch.empty_like(R_out)
        saved = theta.clone()
        side = torch.cuda.Stream(device=theta.device)
        side.wait_stream(torch.cuda.current_stream(theta.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                step(graph["W"], graph["K"], graph["R"])
        torch.cuda.current_stream(theta.device).wait_stream(side)
        theta.copy_(saved)
        graph["graph"] = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph["graph"]):
            step(graph["W"], graph["K"], graph["R"])

    def replay(W: torch.Tensor, K_out: torch.Tensor, R_out: torch.Tensor) -> None:
        if "graph" not in graph:
            capture(W, K_out, R_out)
        graph["W"].copy_(W)
        graph["graph"].replay()
        K_out.copy_(graph["K"])
        R_out.copy_(graph["R"])

    return replay
