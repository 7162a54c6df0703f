"""FitNets (Romero et al. 2015): hints through learned regressors, with stage-1 hint epochs (one by default)."""
from __future__ import annotations

from edgeship.pipeline.distillation.feature import HintLoss
from edgeship.pipeline.distillation.methods.base import LearnedPairs, register


@register
class FitNets(LearnedPairs):
    name = "fitnets"
    display = "FitNets"
    default_beta = 100.0  # CRD benchmark code
    auto_balance = True
    pair_module = HintLoss

    @property
    def hint_epochs(self) -> int:
        return 1 if self.cfg.hint_epochs is None else self.cfg.hint_epochs  # the paper: hints first, then KD
