"""Weight normalization as plain PyTorch layers (Salimans & Kingma, 2016): torch only.

* :class:`WeightNormLinear`, :class:`WeightNormConv2d` (:mod:`wnrl.nn.layers`): ``w = g v / ||v||``
  (paper eq. 2), one ``g`` per output unit; the math in :mod:`wnrl.nn.functional`.
* :class:`MeanOnlyBatchNorm` (:mod:`wnrl.nn.mean_only_bn`): paper sec. 4.
* :func:`weight_norm` / :func:`remove_weight_norm` (:mod:`wnrl.nn.convert`): any module's
  Linear/Conv2d layers to weight norm and back, keeping the function.
* :func:`data_dependent_init`, :func:`paper_init_` (:mod:`wnrl.nn.initialization`): paper sec. 3.
* :func:`enable_inference_cache`, :func:`inference_cache`, :func:`track_optimizer_writes`
  (:mod:`wnrl.nn.cache`): acting at the cost of a plain layer.
* :func:`apply_norm` and :data:`NORMS` (:mod:`wnrl.nn.norms`): the normalizers wnrl compares;
  :mod:`wnrl.nn.projection` (Normalize-and-Project), :mod:`wnrl.nn.fastpath` (speed settings).

Nothing here changes torch itself: no import-time patches, no process-wide hooks.
"""

from wnrl.nn.cache import (
    clear_inference_cache,
    enable_inference_cache,
    inference_cache,
    track_optimizer_writes,
)
from wnrl.nn.convert import (
    is_weight_normalized,
    remove_weight_norm,
    weight_norm,
    weight_norm_layers,
)
from wnrl.nn.functional import DEFAULT_EPS
from wnrl.nn.initialization import LayerInitStats, data_dependent_init, paper_init_
from wnrl.nn.layers import WeightNormConv2d, WeightNormLinear
from wnrl.nn.mean_only_bn import MeanOnlyBatchNorm
from wnrl.nn.norms import NORMS, apply_norm

__all__ = [
    "WeightNormLinear",
    "WeightNormConv2d",
    "MeanOnlyBatchNorm",
    "enable_inference_cache",
    "inference_cache",
    "clear_inference_cache",
    "track_optimizer_writes",
    "LayerInitStats",
    "weight_norm",
    "remove_weight_norm",
    "data_dependent_init",
    "paper_init_",
    "weight_norm_layers",
    "is_weight_normalized",
    "apply_norm",
    "NORMS",
    "DEFAULT_EPS",
]
