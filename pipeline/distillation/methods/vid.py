"""Variational information distillation (Ahn et al. 2019) on each hooked layer pair."""
from __future__ import annotations

from edgeship.pipeline.distillation.information import VariationalRegressor
from edgeship.pipeline.distillation.methods.base import LearnedPairs, register


@register
class VariationalInformation(LearnedPairs):
    name = "vid"
    display = "VID"
    default_beta = 1.0  # CRD benchmark code
    auto_balance = True
    pair_module = VariationalRegressor
