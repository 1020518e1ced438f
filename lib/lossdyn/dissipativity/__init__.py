"""Paper 1 — Püttschneider & Faulwasser, "On Dissipativity of Cross-Entropy Loss in Training ResNets"
(arXiv:2405.19013): ResNet training as optimal control, the soft cross-entropy as a stage cost on
every layer, strict dissipativity and the turnpike.

Ideas of the paper, one module each:

* :mod:`~lossdyn.dissipativity.soft_ce` — the soft (label-smoothed) cross-entropy and its geometry
  (eq. 12–13, Lemmas 3–8: δ, the minimiser lines X⋆_y, Hessian, Huber-type bound);
* :mod:`~lossdyn.dissipativity.resnet_oc` — the ResNet as a control system (eq. 1/26) and the
  optimal-control objective (5) with stage cost (17);
* :mod:`~lossdyn.dissipativity.training` — many ResNets of different depths trained as one stack
  (Section 6), with per-layer measurements and the typed record of one trained network;
* :mod:`~lossdyn.dissipativity.turnpike` — turnpike measures: required depth k⋆, the turnpike set
  Q_ε of Prop. 12;
* :mod:`~lossdyn.dissipativity.spirals` — the two-spirals training recipe of Section 6 shared by
  Figs. 2–4 and the horizon page;
* :mod:`~lossdyn.dissipativity.neural_ode` — the neural ODE (eq. 20–21) discretised by equilibrium-preserving
  fixed-step schemes (Euler, midpoint, RK4; Def. 17, Prop. 18), trained as a stack with the Riemann-sum stage cost;
* :mod:`~lossdyn.dissipativity.data` — the data of Section 6: two spirals and MNIST, offline.

Choices where the paper is silent, and the corrections of two typos of the paper: the Methods and choices
page, book/methods.md (sections ``p1-…``).

Figures (each module named like its notebook): ``p1_fig1_soft_cross_entropy`` (Fig. 1),
``p1_fig2_4_two_spirals`` (Figs. 2–4), ``p1_fig5_mnist_layer_loss`` (Fig. 5),
``p1_turnpike_horizon`` (Prop. 12, the companion's own figure), ``p1_neural_ode_turnpike`` (Section 5: Prop. 16
and Prop. 18, the companion's own figure).
"""

from lossdyn.pipeline.figures import Paper

PAPER = Paper(
    order=1,
    short="Paper 1",
    title="On Dissipativity of Cross-Entropy Loss in Training ResNets",
    authors="Püttschneider & Faulwasser",
    arxiv="2405.19013",
    chapter="book/paper1",
)
