"""Paper 2 — Lavin Pallero & Ruiz-Garcia, "Dynamical loss functions shape landscape topography and
improve learning in artificial neural networks" (arXiv:2410.10690): class weights that oscillate in
time, period doubling, λ_max against the edge of stability 2/η.

Ideas of the paper, one module each:

* :mod:`~lossdyn.dynamical.losses` — the oscillating class weights Γ_i(t) and the losses CE/DCE,
  MSE/DMSE1/DMSE2;
* :mod:`~lossdyn.dynamical.spiral3` — the three-arm spiral data set;
* :mod:`~lossdyn.dynamical.batched_mlp` — many 2 → H → 3 ReLU networks as one tensor program, with
  hand-written gradient, fused gradient-descent step and Hessian-vector product;
* :mod:`~lossdyn.dynamical.ensemble` — the ensemble trainer (full-batch gradient descent of many
  networks at once, block bookkeeping of F and ΔF, divergence freezing, λ_max tracking);
* :mod:`~lossdyn.dynamical.curvature` — λ_max by batched Lanczos on Hessian-vector products;
* :mod:`~lossdyn.dynamical.onset` — dating the onset of an instability in a trajectory, and λ_max there;
* :mod:`~lossdyn.dynamical.outcome` — the status of a trained network (trained, not trained, diverged).

The choices the paper leaves open are in the book's Methods and choices page, sections
``book/methods.md#p2-…``.

Figures (each module named like its notebook): ``p2_fig1_size_vs_learning_rate`` (Fig. 1),
``p2_fig2_3_period_doubling`` (Figs. 2–3), ``p2_fig4_validation_accuracy`` (Fig. 4),
``p2_fig5_edge_of_stability`` (Fig. 5).
"""

from lossdyn.pipeline.figures import Paper

PAPER = Paper(
    order=2,
    short="Paper 2",
    title="Dynamical loss functions shape landscape topography and improve learning in artificial neural networks",
    authors="Lavin Pallero & Ruiz-Garcia",
    arxiv="2410.10690",
    chapter="book/paper2",
)
