"""The callbacks' public path (``wnrl.callbacks``): :mod:`wnrl.sb3.callbacks`."""

from wnrl.sb3.callbacks import DataDependentInit, WeightNormLogger, online_networks

__all__ = ["DataDependentInit", "WeightNormLogger", "online_networks"]
