"""lossdyn: the library of the loss-dynamics paper companion. A map of every module, one line each.

The pipeline (configs, units of work, cache, sweeps, the book build), ``lossdyn.pipeline``:

* :mod:`lossdyn.pipeline.config` — one typed, validated, frozen config per notebook; one-line errors naming the key.
* :mod:`lossdyn.pipeline.figures` — the figure contract (Config, Result, plan, finish, key_numbers, claims, plot)
  and the registry that finds one figure module per notebook in the paper packages.
* :mod:`lossdyn.pipeline.units` — how a config splits into units of work (one network, one ResNet, a whole run).
* :mod:`lossdyn.pipeline.cache` — the results cache, one entry per unit; ``cached_run(cfg)`` runs a figure.
* :mod:`lossdyn.pipeline.archive` — the published paper-profile archive (results/paper/): publish, read, verify.
* :mod:`lossdyn.pipeline.published` — the default build: pages at paper scale from the archive, else quick.
* :mod:`lossdyn.pipeline.closure` — a unit's compute closure: the lib source its result depends on (its key).
* :mod:`lossdyn.pipeline.sweep` — a notebook's missing units as tasks on Dask distributed.
* :mod:`lossdyn.pipeline.runner` — parameters → papermill → executed pages → Jupyter Book (``build``).
* :mod:`lossdyn.pipeline.pages` — pages and tables generated from the registry and the sidecars.
* :mod:`lossdyn.pipeline.measured` — machine, versions and wall times recorded under ``book/measured/``.
* :mod:`lossdyn.pipeline.cli` — ``python -m lossdyn build | sweep | readme`` (:mod:`lossdyn.__main__` calls it).
* :mod:`lossdyn.pipeline.plotting` — the book's figure style and ``save_figure`` (PNG/SVG/PDF + JSON sidecar).
* :mod:`lossdyn.pipeline.tables` — result tables (HTML in the book, fixed-width text in nbval) and generated prose.
* :mod:`lossdyn.pipeline.claims` — a checked claim with its measured numbers and verdict.
* :mod:`lossdyn.pipeline.device` — device and dtype chosen at run time, explicit generators, thread counts.
* :mod:`lossdyn.pipeline.paths` — repository paths resolved from the repository root.
* :mod:`lossdyn.pipeline.progress` — progress bars where a person watches, silent in CI and re-execution.

Paper 1, Püttschneider & Faulwasser, "On Dissipativity of Cross-Entropy Loss in Training ResNets",
``lossdyn.dissipativity``:

* :mod:`lossdyn.dissipativity.soft_ce` — the soft cross-entropy and its geometry (eq. 12–13, Lemmas 3–8).
* :mod:`lossdyn.dissipativity.resnet_oc` — the ResNet as a control system (eq. 1/26) and the OCP (5) with (17).
* :mod:`lossdyn.dissipativity.training` — many ResNets trained as one stack, measured layer by layer (Section 6).
* :mod:`lossdyn.dissipativity.spirals` — the two-spirals training recipe shared by Figs. 2–4 and the horizon page.
* :mod:`lossdyn.dissipativity.turnpike` — turnpike measures: required depth k⋆, the turnpike set of Prop. 12.
* :mod:`lossdyn.dissipativity.neural_ode` — the neural ODE (eq. 21) by Euler, midpoint and RK4 steps (Section 5).
* :mod:`lossdyn.dissipativity.data` — two spirals and MNIST, offline and seeded.

Paper 2, Lavin Pallero & Ruiz-Garcia, "Dynamical loss functions shape landscape topography and improve
learning", ``lossdyn.dynamical``:

* :mod:`lossdyn.dynamical.losses` — the oscillating class weights Γ_i(t) and CE/DCE, MSE/DMSE1/DMSE2.
* :mod:`lossdyn.dynamical.spiral3` — the three-arm spiral data set.
* :mod:`lossdyn.dynamical.batched_mlp` — many 2 → H → 3 ReLU networks as one tensor program (gradient, HVP).
* :mod:`lossdyn.dynamical.ensemble` — the ensemble trainer: full-batch GD of many networks at once.
* :mod:`lossdyn.dynamical.curvature` — λ_max by batched Lanczos on Hessian-vector products.
* :mod:`lossdyn.dynamical.onset` — dating the onset of an instability in a trajectory.
* :mod:`lossdyn.dynamical.outcome` — the status of a trained network: trained, not trained or diverged.

Question — MSE on the softmax against cross-entropy, ``lossdyn.gradnorms``:

* :mod:`lossdyn.gradnorms.theory` — both gradients in closed form, the spectrum of J(p), the page's bounds.
* :mod:`lossdyn.gradnorms.relu_mlp` — the question's deep ReLU network, batched, with hand-written backprop.
* :mod:`lossdyn.gradnorms.training` — full-batch GD with each loss, recording both gradient norms.

Figures: each paper package holds one figure module per notebook, named exactly like it
(e.g. :mod:`lossdyn.dynamical.p2_fig5_edge_of_stability` ↔ ``notebooks/p2_fig5_edge_of_stability.ipynb``);
the paper package's docstring lists them and :func:`lossdyn.pipeline.figures.figures` finds them.
"""

__version__ = "0.1.0"
