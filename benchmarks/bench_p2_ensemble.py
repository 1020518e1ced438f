"""Benchmark for Paper 2's machinery: the ensemble trainer and λ_max by batched Lanczos.

Run from the repository root (takes a few minutes on 2 cores):

    .venv/bin/python benchmarks/bench_p2_ensemble.py [--out book/measured] [--repeats 3]

Side by side, in one process, one thread, on the same data (the 300-point 3-arm spiral):

1. **Training.** ``lossdyn.dynamical.ensemble`` (the fused CPU step kernel, chunks of 4 models)
   against a naive per-model ``nn.Sequential`` + autograd + manual GD loop, both training the same
   models with DCE (A = 70, T = 5000, η = 1, H = 100) for the same number of steps. Reported:
   model-steps per second of process CPU time and of wall time (median of the repeats) and the
   ratio. The trajectories are checked to agree (float64) before timing.
   Then, per dtype, model-steps per CPU-s of one process at H = 10, 100, 1000 and S = 1, 4, 16 (the
   measurement behind ``lossdyn.dynamical.ensemble.cpu_chunk``), and the roofline: this core's FLOP/s on
   a 1024² matmul and on the trainer's batched shapes, its triad bandwidth, and the trainer's FLOP/s as a
   fraction of min(peak, intensity × bandwidth) with the FLOPs and bytes per model-step of
   :func:`flops_per_model_step` and :func:`bytes_per_model_step`; and the kernel's build time.
2. **λ_max.** On networks trained to the edge of stability, λ_max by the project's batched Lanczos
   (cold start, m = 20; warm start from the Ritz vector of 25 steps earlier, m = 10) against exact
   ``eigh`` of the full ``torch.func.hessian`` and against ``scipy.sparse.linalg.eigsh`` per model on a
   ``LinearOperator`` of Hessian-vector products: autograd double-backward HVPs (the common practice,
   e.g. Cohen et al. 2021) and, to isolate the solver, the project's R-op HVPs. Reported: CPU ms per
   model per estimate and relative error against ``eigh``.

Writes ``<out>/p2_benchmark.md`` and ``<out>/p2_benchmark.json`` with the machine it ran on. Timings on a
shared machine are noisy: the load average at start and end is recorded with them.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as sla
import torch

from lossdyn.dynamical import batched_mlp as bm
from lossdyn.dynamical import losses as dl
from lossdyn.dynamical.batched_mlp import BatchedMLP, glorot_init
from lossdyn.dynamical.curvature import hessian_eigh, lanczos
from lossdyn.dynamical.ensemble import Member, TrainSpec, member_seeds, train_chunk
from lossdyn.dynamical.spiral3 import spiral3
from lossdyn.pipeline.device import cpu_model

H, ETA, A, T = 100, 1.0, 70.0, 5000


def timed(fn, repeats: int):
    """(median CPU seconds, median wall seconds, last result)."""
    cpu, wall, out = [], [], None
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall), out


# -- 1. training ------------------------------------------------------------------------------------
def naive_train(spec: TrainSpec, members: list[Member], steps: int, dtype: torch.dtype) -> list[torch.Tensor]:
    """Per-model nn.Sequential + autograd + manual GD (the baseline)."""
    X, y = spiral3(spec.train_seed, spec.n_per_class, dtype=dtype)
    out = []
    for m in members:
        net = torch.nn.Sequential(torch.nn.Linear(2, spec.H), torch.nn.ReLU(), torch.nn.Linear(spec.H, 3)).to(dtype)
        theta = glorot_init(spec.H, torch.Generator().manual_seed(member_seeds(spec, m)[0])).to(dtype)
        torch.nn.utils.vector_to_parameters(theta, net.parameters())
        G_all = dl.gamma(torch.arange(steps), m.A, m.T).to(dtype)
        for t in range(steps):
            loss = dl.dynamical_cross_entropy(net(X), y, G_all[t])
            net.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(p.grad, alpha=-m.eta)
        out.append(torch.nn.utils.parameters_to_vector(net.parameters()).detach())
    return out


def kernel_build_seconds() -> float:
    """Wall seconds to compile the fused CPU kernel from scratch (into a fresh directory), then load it."""
    saved = os.environ.get("LOSSDYN_KERNEL_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LOSSDYN_KERNEL_DIR"] = tmp
        bm._FUSED_LIBRARY.clear()
        t0 = time.perf_counter()
        built = bm._fused_library() is not None
        seconds = time.perf_counter() - t0
    bm._FUSED_LIBRARY.clear()
    if saved is None:
        os.environ.pop("LOSSDYN_KERNEL_DIR")
    else:
        os.environ["LOSSDYN_KERNEL_DIR"] = saved
    return seconds if built else math.nan


def agreement(dtype_name: str, checkpoints=(1, 50, 100, 200)) -> dict[int, float]:
    """Largest |θ_ours − θ_naive| over two models after each number of steps in ``checkpoints``, same init."""
    members = [Member(r, ETA, A, T) for r in range(2)]
    spec = TrainSpec(H=H, steps=max(checkpoints), dtype=dtype_name, snapshot_steps=tuple(checkpoints))
    ours = train_chunk(spec, members, "cpu")["snap_theta"]  # (2, len(checkpoints), P)
    out = {}
    for k, t in enumerate(checkpoints):
        ref = naive_train(spec, members, t, getattr(torch, dtype_name))
        out[t] = max(float((ours[i, k] - ref[i].double()).abs().max()) for i in range(len(members)))
    return out


def bench_training(dtype_name: str, n_models: int, steps: int, repeats: int) -> dict:
    dtype = getattr(torch, dtype_name)
    members = [Member(r, ETA, A, T) for r in range(n_models)]
    spec = TrainSpec(H=H, steps=steps, dtype=dtype_name, snapshot_steps=(steps,), loss_bins=50)
    chunk = 4

    def ours():
        return [train_chunk(spec, members[i : i + chunk], "cpu") for i in range(0, n_models, chunk)]

    diffs = agreement(dtype_name)  # also the warm-up
    ours()
    c_ours, w_ours, _ = timed(ours, repeats)
    c_naive, w_naive, _ = timed(lambda: naive_train(spec, members, steps, dtype), repeats)
    ms = n_models * steps
    return {
        "dtype": dtype_name,
        "models": n_models,
        "steps": steps,
        "chunk": chunk,
        "max_abs_diff_after_200_steps": diffs[200],
        "max_abs_diff_by_steps": diffs,
        "ensemble_model_steps_per_cpu_s": ms / c_ours,
        "naive_model_steps_per_cpu_s": ms / c_naive,
        "ensemble_model_steps_per_wall_s": ms / w_ours,
        "naive_model_steps_per_wall_s": ms / w_naive,
        "ratio_cpu": c_naive / c_ours,
        "ratio_wall": w_naive / w_ours,
    }


# -- 1b. chunk size and the roofline ------------------------------------------------------------------
def bench_chunks(dtype_name: str, widths=(10, 100, 1000), sizes=(1, 4, 16), work: int = 4_000_000) -> list[dict]:
    """Model-steps per CPU-s of :func:`train_chunk` for S models at width H (about ``work``·H⁻¹ model-steps each)."""
    rows = []
    for H_ in widths:
        for S in sizes:
            steps = max(64, work // (H_ * 10 * S))
            spec = TrainSpec(H=H_, steps=steps, dtype=dtype_name, loss_bins=20)
            members = [Member(r, 0.5, A, 100) for r in range(S)]
            train_chunk(TrainSpec(H=H_, steps=64, dtype=dtype_name), members, "cpu")  # warm-up
            c, w, _ = timed(lambda spec=spec, members=members: train_chunk(spec, members, "cpu"), 1)
            rows.append({"dtype": dtype_name, "H": H_, "S": S, "steps": steps, "model_steps_per_cpu_s": S * steps / c})
    return rows


def flops_per_model_step(H_: int, N: int = 300, d: int = 2, C: int = 3) -> int:
    """Matmul FLOPs of one GD step of one model (2 per multiply-add; elementwise work not counted):
    forward W1 X (2dHN) and W2 A (2CHN); backward gW2 = dO Aᵀ (2CHN), W2ᵀ dO (2CHN), gW1 = dZ Xᵀ (2dHN);
    in all 2HN(2d + 3C) = 26 HN at d = 2, C = 3."""
    return 2 * H_ * N * (2 * d + 3 * C)


def bytes_per_model_step(H_: int, itemsize: int, N: int = 300, d: int = 2, C: int = 3) -> int:
    """Compulsory memory traffic of one fused step of one model: θ read twice and written once (3P), X read
    twice (2dN), O written and read, dO written and read, Y and W read (6CN + 2CN), the ring buffer's copy of θ
    (2P). No H × N array is stored by the fused kernel, so nothing else leaves the core's caches."""
    P = d * H_ + H_ + C * H_ + C
    return itemsize * (5 * P + 2 * d * N + 8 * C * N)


def peak_flops(dtype: torch.dtype, repeats: int) -> dict:
    """FLOP/s of one thread: a 1024² matmul (the core's practical peak) and the trainer's batched shapes
    (S = 4, H = 100: the forward 3×100·100×300 and the 2-deep 100×2·2×300 products as ``bmm``)."""
    out = {}
    a, b = torch.randn(1024, 1024, dtype=dtype), torch.randn(1024, 1024, dtype=dtype)
    shapes = {
        "matmul 1024x1024x1024": (lambda: torch.mm(a, b), 2 * 1024**3),
        "bmm 4 x (3x100 @ 100x300)": (
            functools.partial(torch.bmm, torch.randn(4, 3, 100, dtype=dtype), torch.randn(4, 100, 300, dtype=dtype)),
            2 * 4 * 3 * 100 * 300,
        ),
        "bmm 4 x (100x2 @ 2x300)": (
            functools.partial(torch.bmm, torch.randn(4, 100, 2, dtype=dtype), torch.randn(4, 2, 300, dtype=dtype)),
            2 * 4 * 100 * 2 * 300,
        ),
    }
    for name, (fn, flops) in shapes.items():
        n = max(3, int(2e9 // flops))
        c, _, _ = timed(lambda fn=fn, n=n: [fn() for _ in range(n)], repeats)
        out[name] = n * flops / c
    return out


def bandwidth(dtype: torch.dtype, repeats: int, numel: int = 2**25) -> float:
    """Bytes/s of one thread on a triad a = b + s·c over arrays far larger than the caches (3 arrays moved)."""
    a, b, c = (torch.rand(numel, dtype=dtype) for _ in range(3))
    cpu, _, _ = timed(lambda: torch.add(b, c, alpha=0.5, out=a), repeats)
    return 3 * numel * a.element_size() / cpu


def roofline(training: list[dict], chunks: list[dict], repeats: int) -> list[dict]:
    """The trainer against min(peak, intensity × bandwidth) per dtype, at H = 100 (the training benchmark's
    width) and at each width of ``chunks``."""
    rows = []
    for t in training:
        dtype = getattr(torch, t["dtype"])
        peak, bw = peak_flops(dtype, repeats), bandwidth(dtype, repeats)
        top = peak["matmul 1024x1024x1024"]
        points = [(H, t["chunk"], t["ensemble_model_steps_per_cpu_s"])] + [
            (c["H"], c["S"], c["model_steps_per_cpu_s"]) for c in chunks if c["dtype"] == t["dtype"]
        ]
        for H_, S, rate in points:
            flops, nbytes = flops_per_model_step(H_), bytes_per_model_step(H_, dtype.itemsize)
            bound = min(top, flops / nbytes * bw)
            rows.append(
                {
                    "dtype": t["dtype"],
                    "H": H_,
                    "S": S,
                    "flops_per_model_step": flops,
                    "bytes_per_model_step": nbytes,
                    "peak_flops": peak,
                    "bandwidth_bytes_per_s": bw,
                    "roofline_flops": bound,
                    "trainer_flops": flops * rate,
                    "fraction_of_roofline": flops * rate / bound,
                }
            )
    return rows


# -- 2. λ_max ---------------------------------------------------------------------------------------
def autograd_hvp_operator(model: BatchedMLP, theta_one: torch.Tensor, G_one: torch.Tensor):
    """scipy LinearOperator of a double-backward HVP (graph rebuilt for every product, Cohen-style)."""
    net = model.module(theta_one)
    params = list(net.parameters())
    P = theta_one.numel()
    count = [0]

    def matvec(v):
        count[0] += 1
        loss = model.reference_loss(net(model.X), G_one)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in grads])
        vt = torch.from_numpy(np.asarray(v, dtype=np.float64).reshape(-1)).to(theta_one.dtype)
        hv = torch.autograd.grad(flat @ vt, params)
        return torch.cat([h.reshape(-1) for h in hv]).detach().double().numpy()

    return sla.LinearOperator((P, P), matvec=matvec, dtype=np.float64), count


def rop_hvp_operator(model: BatchedMLP, theta_one: torch.Tensor, G_one: torch.Tensor):
    hvp = model.hvp_fn(theta_one[None], G_one[None])
    P = theta_one.numel()
    count = [0]

    def matvec(v):
        count[0] += 1
        vt = torch.from_numpy(np.asarray(v, dtype=np.float64).reshape(1, -1)).to(theta_one.dtype)
        return hvp(vt)[0].double().numpy()

    return sla.LinearOperator((P, P), matvec=matvec, dtype=np.float64), count


def lanczos_top(
    model: BatchedMLP, theta: torch.Tensor, G: torch.Tensor, start: torch.Tensor, m: int, tol: float = 0.0
) -> torch.Tensor:
    """λ_max per model by the project's batched Lanczos of order m (at most m with the residual stop ``tol``)."""
    return lanczos(model.hvp_fn(theta, G), start, m, tol=tol).values[:, 0]


def eigsh_per_model(make, model: BatchedMLP, theta: torch.Tensor, G: torch.Tensor, v0: torch.Tensor, counts: list):
    """λ_max of each model by ``scipy.sparse.linalg.eigsh`` on the HVP operator ``make`` builds;
    appends each model's number of matvecs to ``counts``."""
    vals = []
    for i in range(theta.shape[0]):
        op, count = make(model, theta[i], G[i])
        vals.append(float(sla.eigsh(op, k=1, which="LA", tol=0, v0=v0[i].numpy(), return_eigenvectors=False)[0]))
        counts.append(count[0])
    return torch.tensor(vals, dtype=torch.float64)


def bench_lambda(n_models: int, repeats: int, warm_gap: int = 25) -> dict:
    steps = 4000  # DCE at η = 1: λ_max is near 2/η here (period 0, up-class weight high)
    members = [Member(r, ETA, A, T) for r in range(n_models)]
    spec = TrainSpec(H=H, steps=steps, dtype="float64", snapshot_steps=(steps - warm_gap, steps))
    res = train_chunk(spec, members, "cpu")
    X, y = spiral3(0)
    model = BatchedMLP(X, y, H, "ce")
    theta_prev, theta = res["snap_theta"][:, 0].contiguous(), res["snap_theta"][:, 1].contiguous()
    G = dl.gamma(torch.full((n_models,), steps), A, T)
    G_prev = dl.gamma(torch.full((n_models,), steps - warm_gap), A, T)
    v0 = torch.randn(n_models, model.P, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    c_exact, w_exact, exact = timed(lambda: [hessian_eigh(model, theta[i], G[i])[0][-1] for i in range(n_models)], 1)
    exact = torch.stack(exact)
    rows = [
        {
            "method": "exact: torch.func.hessian + eigh",
            "hvps": model.P,
            "cpu_ms_per_model": 1e3 * c_exact / n_models,
            "wall_ms_per_model": 1e3 * w_exact / n_models,
            "rel_err_max": 0.0,
            "rel_err_median": 0.0,
        }
    ]

    v_prev = lanczos(model.hvp_fn(theta_prev, G_prev), v0, 20).vectors[:, 0]
    ours = [
        (f"lossdyn batched Lanczos, {kind}, m = {m}", start, m, 0.0)
        for kind, start in (("cold", v0), (f"warm (from {warm_gap} steps earlier)", v_prev))
        for m in (20, 10, 5)
    ]
    ours.insert(
        3,
        (
            "lossdyn batched Lanczos, cold, residual stop 1e-3 (at most 20 steps; the trainer's cold start)",
            v0,
            20,
            1e-3,
        ),
    )
    for name, start, m, tol in ours:
        steps_used = lanczos(model.hvp_fn(theta, G), start, m, tol=tol).n_hvp
        fn = functools.partial(lanczos_top, model, theta, G, start, m, tol)
        fn()
        c, w, val = timed(fn, repeats)
        err = (val - exact).abs() / exact.abs()
        rows.append(
            {
                "method": name,
                "hvps": steps_used,
                "cpu_ms_per_model": 1e3 * c / n_models,
                "wall_ms_per_model": 1e3 * w / n_models,
                "rel_err_max": float(err.max()),
                "rel_err_median": float(err.median()),
            }
        )

    for name, make in (
        ("scipy eigsh per model, autograd double-backward HVP", autograd_hvp_operator),
        ("scipy eigsh per model, lossdyn R-op HVP", rop_hvp_operator),
    ):
        counts = []
        c, w, val = timed(functools.partial(eigsh_per_model, make, model, theta, G, v0, counts), repeats)
        err = (val - exact).abs() / exact.abs()
        rows.append(
            {
                "method": name,
                "hvps": statistics.median(counts),
                "cpu_ms_per_model": 1e3 * c / n_models,
                "wall_ms_per_model": 1e3 * w / n_models,
                "rel_err_max": float(err.max()),
                "rel_err_median": float(err.median()),
            }
        )
    return {"models": n_models, "P": model.P, "lambda_exact": exact.tolist(), "two_over_eta": 2 / ETA, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="book/measured")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--models", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("LOSSDYN_QUIET", "1")
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    build_s = kernel_build_seconds()
    training = [bench_training(dt, args.models, args.steps, args.repeats) for dt in ("float32", "float64")]
    chunks = [row for dt in ("float32", "float64") for row in bench_chunks(dt)]
    roof = roofline(training, chunks, args.repeats)
    lam = bench_lambda(args.models, args.repeats)
    load1 = os.getloadavg()
    machine = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "load_average_start": [round(x, 2) for x in load0],
        "load_average_end": [round(x, 2) for x in load1],
        "benchmark_wall_s": round(time.perf_counter() - t0, 1),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    result = {
        "machine": machine,
        "kernel_build_s": build_s,
        "training": training,
        "chunks": chunks,
        "roofline": roof,
        "lambda_max": lam,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "p2_benchmark.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "p2_benchmark.md").write_text(to_markdown(result))
    print(to_markdown(result))


def to_markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"Measured on **{m['cpu']}** ({m['logical_cpus']} logical CPUs), {m['platform']}, Python {m['python']}, "
        f"torch {m['torch']}, {m['threads']} thread, {m['date']}. "
        f"Load average {m['load_average_start'][0]:.2f} at the start "
        f"and {m['load_average_end'][0]:.2f} at the end (other jobs shared the machine; read the figures as ratios).",
        "",
        f"**Training** — DCE (A = {A:g}, T = {T}), η = {ETA:g}, H = {H}, 300 samples; "
        f"{r['training'][0]['models']} models × "
        f"{r['training'][0]['steps']} steps; the ensemble runs chunks of {r['training'][0]['chunk']} models.",
        "",
        "| dtype | naive nn.Module + autograd (model-steps/CPU-s) | lossdyn ensemble (model-steps/CPU-s) "
        "| ratio (CPU) | ratio (wall) | max abs. diff. after 200 steps |",
        "|---|---|---|---|---|---|",
    ]
    for t in r["training"]:
        lines.append(
            f"| {t['dtype']} | {t['naive_model_steps_per_cpu_s']:,.0f} | {t['ensemble_model_steps_per_cpu_s']:,.0f} | "
            f"**{t['ratio_cpu']:.1f}×** | {t['ratio_wall']:.1f}× | {t['max_abs_diff_after_200_steps']:.1e} |"
        )
    lines += [
        "",
        "The last column compares the two implementations' parameters after 200 steps from the same initial weights; "
        "after 1, 50, 100 and 200 steps the largest differences were "
        + "; ".join(
            f"{t['dtype']} " + ", ".join(f"{float(v):.1e}" for v in t["max_abs_diff_by_steps"].values())
            for t in r["training"]
        )
        + ". In float64 they agree to rounding; in float32 the rounding-level difference grows quickly over "
        "the steps (η = 1 is at the edge of stability), presumably where rounding moves a ReLU pre-activation "
        "across 0. The autograd tests in `tests/test_ensemble.py` and `tests/test_trainer_speed_paths.py` are in "
        "float64 (and float32 over ten steps).",
        "",
        f"The ensemble's step is the fused CPU kernel (`LOSSDYN_COMPILE=1`, the default; built once per machine "
        f"in {r['kernel_build_s']:.1f} s wall, measured from scratch in this run).",
    ]
    lines += chunk_markdown(r["chunks"]) + roofline_markdown(r["roofline"])
    lam = r["lambda_max"]
    rows = {row["method"]: row for row in lam["rows"]}
    eig = rows["scipy eigsh per model, autograd double-backward HVP"]
    eig_rop = rows["scipy eigsh per model, lossdyn R-op HVP"]
    accurate = [row for row in lam["rows"] if row["method"].startswith("lossdyn") and row["rel_err_max"] <= 1e-5]
    cold = min(
        (row for row in accurate if ", cold," in row["method"]), key=lambda row: row["cpu_ms_per_model"], default=None
    )
    warm = min(
        (row for row in accurate if ", warm" in row["method"]), key=lambda row: row["cpu_ms_per_model"], default=None
    )
    lines += [
        "",
        f"**λ_max** — {lam['models']} DCE networks (H = {H}, P = {lam['P']} parameters, float64) "
        "after 4000 steps at η = 1, "
        f"λ_max from {min(lam['lambda_exact']):.3f} to {max(lam['lambda_exact']):.3f} (2/η = {lam['two_over_eta']:g}).",
        "",
        "| method | HVPs | CPU ms per model | relative error (max) | relative error (median) |",
        "|---|---|---|---|---|",
    ]
    for row in lam["rows"]:
        lines.append(
            f"| {row['method']} | {row['hvps']:.0f} | {row['cpu_ms_per_model']:.2f} | {row['rel_err_max']:.1e} | "
            f"{row['rel_err_median']:.1e} |"
        )
    summary = []
    for label, row in (("cold start", cold), ("warm start, as when tracking", warm)):
        if row is None:
            summary.append(f"no {label} Lanczos variant reached 1e-5")
            continue
        summary.append(
            f"{label}: cheapest variant within 1e-5 is *{row['method'].split(', ', 1)[1]}*, "
            f"**{eig['cpu_ms_per_model'] / row['cpu_ms_per_model']:.0f}×** cheaper than eigsh with autograd HVPs "
            f"and {eig_rop['cpu_ms_per_model'] / row['cpu_ms_per_model']:.1f}× cheaper than eigsh "
            "with the same R-op HVPs"
        )
    lines += ["", "Per-estimate CPU cost ratios at ≤ 1e-5 relative error: " + "; ".join(summary) + ".", ""]
    return "\n".join(lines)


def chunk_markdown(chunks: list[dict]) -> list[str]:
    """The table behind :func:`lossdyn.dynamical.ensemble.cpu_chunk`: model-steps/CPU-s by width and chunk size."""
    sizes = sorted({c["S"] for c in chunks})
    lines = [
        "",
        "**Chunk size** — model-steps per CPU-s of one process training S models of width H together "
        "(DCE, A = 70, T = 100, η = 0.5; one run each, including set-up and the final accuracies):",
        "",
        "| dtype | H | " + " | ".join(f"S = {S}" for S in sizes) + " |",
        "|---|---|" + "---|" * len(sizes),
    ]
    for dtype in dict.fromkeys(c["dtype"] for c in chunks):
        for H_ in sorted({c["H"] for c in chunks if c["dtype"] == dtype}):
            rate = {c["S"]: c["model_steps_per_cpu_s"] for c in chunks if c["dtype"] == dtype and c["H"] == H_}
            lines.append(f"| {dtype} | {H_} | " + " | ".join(f"{rate[S]:,.0f}" for S in sizes) + " |")
    return lines


def roofline_markdown(roof: list[dict]) -> list[str]:
    """The trainer as a fraction of min(peak, intensity × bandwidth), with the measured peaks and bandwidth."""
    lines = ["", "**Roofline** — one thread of this core, measured in the same run:", ""]
    for dtype in dict.fromkeys(r["dtype"] for r in roof):
        first = next(r for r in roof if r["dtype"] == dtype)
        peaks = "; ".join(f"{name} {v / 1e9:.1f} GFLOP/s" for name, v in first["peak_flops"].items())
        lines.append(f"* {dtype}: {peaks}; triad bandwidth {first['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s.")
    lines += [
        "",
        "FLOPs per model-step 26·H·N (the five matmuls), bytes per model-step the fused step's compulsory traffic "
        "(`flops_per_model_step`, `bytes_per_model_step` in the benchmark). The first row of each dtype is the "
        "training benchmark above; the others are the chunk table's runs.",
        "",
        "| dtype | H | S | FLOP/byte | roofline bound (GFLOP/s) | trainer (GFLOP/s) | fraction of roofline |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in roof:
        lines.append(
            f"| {r['dtype']} | {r['H']} | {r['S']} | {r['flops_per_model_step'] / r['bytes_per_model_step']:.1f} | "
            f"{r['roofline_flops'] / 1e9:.1f} | {r['trainer_flops'] / 1e9:.2f} | {r['fraction_of_roofline']:.1%} |"
        )
    return lines


if __name__ == "__main__":
    main()
