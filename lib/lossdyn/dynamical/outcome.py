"""The status of a trained network: ``trained``, ``not trained`` or ``diverged`` (book/methods.md#p2-outcome).

One declared rule for every Paper 2 figure, vectorised over the S networks of an ensemble result
(:func:`lossdyn.dynamical.ensemble.train_chunk`). A network is

* **diverged** if its loss is NaN/inf (the trainer froze it: ``diverged``, or ``final_loss`` not finite),
  or its loss ends above its starting loss, F(θ_{steps−1}, steps − 1) > F(θ_0, 0), or its training
  accuracy sits at chance, at most :data:`CHANCE` + :data:`CHANCE_MARGIN`;
* **trained** if it did not diverge and its training accuracy is at least :data:`TRAINED_ACCURACY`;
* **not trained** otherwise (it left chance but fits less than that).

The starting loss F(θ_0, 0) is the trainer's first loss bin: its log-spaced bins start with the single
step [0, 1) (``loss_bin_start[0] = 0``, ``loss_bin_end[0] = 1``), so ``loss_bin_mean[:, 0]`` is F(θ_0, 0)
exactly. For a dynamical loss the two losses are taken on the landscapes of their own steps, Γ(0) and
Γ(steps − 1) (both Γ ≡ 1 with a static last period). A figure counts every status per condition, leaves the
diverged networks out of its means and lets no claim rest on them; ``not trained`` networks stay in the
means (a small network that CE cannot fit is what Fig. 4 is about).

Use: ``o = outcome(result)`` (or ``outcome(result, a, b)`` for members a … b − 1), then ``o.diverged``,
``o.counts()``, ``describe(o.counts())``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

__all__ = [
    "CHANCE",
    "CHANCE_MARGIN",
    "STATUSES",
    "TRAINED_ACCURACY",
    "Outcome",
    "classify",
    "describe",
    "outcome",
    "start_loss",
    "total",
]

#: Chance accuracy on the three balanced classes of the spiral (a network that answers one class for every
#: point scores exactly this).
CHANCE = 1.0 / 3.0
#: "At chance" = training accuracy ≤ CHANCE + CHANCE_MARGIN. Guessing on the 300 training points scores
#: 1/3 with a standard deviation √((1/3)(2/3)/300) ≈ 0.027; 0.05 is about two of them, so a network
#: below it cannot be told apart from guessing.
CHANCE_MARGIN = 0.05
#: "Trained" = training accuracy ≥ 2/3, half way from chance (1/3) to a perfect fit.
TRAINED_ACCURACY = 2.0 / 3.0
#: The statuses, in the order of the codes of :attr:`Outcome.status`.
STATUSES = ("trained", "not trained", "diverged")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The status of S networks: the three reasons to count one as diverged and the not-trained flag, (S,) bool.

    A network may have several reasons at once (a loss that rose to 34 with accuracy 1/3 is both).
    """

    non_finite: torch.Tensor  # the loss became NaN/inf
    loss_rose: torch.Tensor  # finite, but F at the end > F(θ_0, 0)
    at_chance: torch.Tensor  # training accuracy ≤ CHANCE + CHANCE_MARGIN
    below_trained: torch.Tensor  # training accuracy < TRAINED_ACCURACY

    @property
    def diverged(self) -> torch.Tensor:
        return self.non_finite | self.loss_rose | self.at_chance

    @property
    def trained(self) -> torch.Tensor:
        return ~self.diverged & ~self.below_trained

    @property
    def not_trained(self) -> torch.Tensor:
        return ~self.diverged & self.below_trained

    @property
    def status(self) -> torch.Tensor:
        """(S,) int64: the index of each network's status in :data:`STATUSES`."""
        return torch.where(self.diverged, 2, torch.where(self.below_trained, 1, 0)).to(torch.int64)

    def names(self) -> list[str]:
        """Each network's status as a word of :data:`STATUSES`."""
        return [STATUSES[int(s)] for s in self.status]

    def counts(self) -> dict[str, int]:
        """Networks per status (every status present, zeros included) and per reason for diverging:
        ``trained``, ``not trained``, ``diverged``, ``non-finite``, ``loss rose``, ``at chance``."""
        return {
            "trained": int(self.trained.sum()),
            "not trained": int(self.not_trained.sum()),
            "diverged": int(self.diverged.sum()),
            "non-finite": int(self.non_finite.sum()),
            "loss rose": int(self.loss_rose.sum()),
            "at chance": int(self.at_chance.sum()),
        }


def classify(
    final_loss: torch.Tensor,
    first_loss: torch.Tensor,
    train_acc: torch.Tensor,
    flagged: torch.Tensor | None = None,
) -> Outcome:
    """The :class:`Outcome` of S networks from their final loss, starting loss F(θ_0, 0) and training accuracy
    (S,); ``flagged`` (S,) bool: the trainer's own divergence flag (``diverged``), if any."""
    final_loss, first_loss = final_loss.to(torch.float64), first_loss.to(torch.float64)
    train_acc = train_acc.to(torch.float64)
    non_finite = ~torch.isfinite(final_loss) | ~torch.isfinite(first_loss)
    if flagged is not None:
        non_finite = non_finite | flagged.to(torch.bool)
    loss_rose = ~non_finite & (final_loss > first_loss)
    acc = torch.nan_to_num(train_acc, nan=CHANCE)  # no accuracy: counted at chance
    return Outcome(
        non_finite=non_finite,
        loss_rose=loss_rose,
        at_chance=acc <= CHANCE + CHANCE_MARGIN,
        below_trained=acc < TRAINED_ACCURACY,
    )


def start_loss(result: dict[str, Any]) -> torch.Tensor:
    """F(θ_0, 0) of each network, (S,) float64: the first loss bin of a trainer result, which must be the
    single step [0, 1) (module docstring)."""
    if int(result["loss_bin_start"][0]) != 0 or int(result["loss_bin_end"][0]) != 1:
        raise ValueError("the first loss bin is not the single step [0, 1): the starting loss is not recorded")
    return result["loss_bin_mean"][:, 0]


def outcome(result: dict[str, Any], a: int = 0, b: int | None = None) -> Outcome:
    """The :class:`Outcome` of members ``a`` … ``b − 1`` (default: all) of a trainer result dict
    (``final_loss``, ``loss_bin_*``, ``train_acc``, ``diverged``)."""
    sl = slice(a, b)
    return classify(
        result["final_loss"][sl], start_loss(result)[sl], result["train_acc"][sl], flagged=result["diverged"][sl]
    )


def describe(counts: dict[str, int]) -> str:
    """``"2 trained, 1 not trained, 1 diverged (1 loss rose, 1 at chance)"``; reasons with zero networks are
    left out, and the bracket when none diverged."""
    text = f"{counts['trained']} trained, {counts['not trained']} not trained, {counts['diverged']} diverged"
    reasons = [f"{counts[k]} {k}" for k in ("non-finite", "loss rose", "at chance") if counts.get(k, 0)]
    return text + (f" ({', '.join(reasons)})" if reasons and counts["diverged"] else "")


def total(counts: list[dict[str, int]]) -> dict[str, int]:
    """The sum of several :meth:`Outcome.counts` (e.g. over the widths of a claim)."""
    keys = ("trained", "not trained", "diverged", "non-finite", "loss rose", "at chance")
    return {k: sum(c.get(k, 0) for c in counts) for k in keys}
