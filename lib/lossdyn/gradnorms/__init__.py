"""The question: how do the gradient norms of the MSE on the softmax output and of the cross-entropy
relate, for a deep ReLU network with a softmax output? (``shared/papers/mse-vs-cross-entropy-gradient-norms.qa.txt``;
the choices it leaves open: book/methods.md#q-gradient-norms)

* :mod:`~lossdyn.gradnorms.theory` — both gradients in closed form at the logits and through the
  parameters, the spectrum of the softmax Jacobian J(p), the page's bounds;
* :mod:`~lossdyn.gradnorms.relu_mlp` — the question's network, batched, with hand-written backprop
  and tangent kernel;
* :mod:`~lossdyn.gradnorms.training` — full-batch gradient descent with each loss, recording both
  gradient norms;
* :mod:`~lossdyn.gradnorms.q_gradient_norms` — the question page's figure module (``notebooks/q_gradient_norms.ipynb``):
  config, the run, its typed ``Result``, tables, claims and plots.
"""

from lossdyn.pipeline.figures import Paper

PAPER = Paper(
    order=3,
    short="Question",
    title="MSE on the softmax against cross-entropy: how their gradient norms relate",
    authors="",
    arxiv="",
    chapter="book/generated/q_gradient_norms",
)
