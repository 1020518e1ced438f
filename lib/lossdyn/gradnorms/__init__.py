"""The question: how do the gradient norms of the MSE on the softmax output and of the cross-entropy
relate, for a deep ReLU network with a softmax output?

* :mod:`~lossdyn.gradnorms.theory` — both gradients in closed form at the logits and through the
  parameters, the spectrum of the softmax Jacobian J(p), the page's bounds;
* :mod:`~lossdyn.gradnorms.relu_mlp` — the question's network, batched, with hand-written backprop
  and tangent kernel;
* :mod:`~lossdyn.gradnorms.training` — full-batch gradient descent with each loss, recording both
  gradient norms.

Figure: ``q_gradient_norms`` (the question page).
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
