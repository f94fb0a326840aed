"""Mean-only batch normalization (paper sec. 4): subtract the minibatch mean, add a bias."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MeanOnlyBatchNorm(nn.Module):
    """Mean-only batch normalization (paper sec. 4): ``y = t - mu[t] + b``.

    In training mode ``mu`` is the minibatch mean per feature (over the batch, and over the
    spatial positions for (N, C, H, W) inputs); the running average is updated as in the
    reference code, ``avg <- (1 - momentum) avg + momentum mu`` with momentum 0.1. In eval mode
    the running average is subtracted. Unlike full batch norm there is no division by the std.
    Use it after a layer whose own bias is dropped; ``b`` is this module's ``bias``.
    """

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.num_features = num_features
        self.momentum = momentum
        factory = {"device": device, "dtype": dtype}
        self.bias = nn.Parameter(torch.zeros(num_features, **factory)) if bias else None
        self.register_buffer("running_mean", torch.zeros(num_features, **factory))

    def _feature_view(self, x: Tensor, t: Tensor) -> Tensor:
        return t.view(1, -1, *([1] * (x.dim() - 2)))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"MeanOnlyBatchNorm expected (N, {self.num_features}, ...) input, "
                f"got shape {tuple(x.shape)}"
            )
        if self.training:
            dims = [0, *range(2, x.dim())]
            mean = x.mean(dim=dims)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
        else:
            mean = self.running_mean
        out = x - self._feature_view(x, mean)
        if self.bias is not None:
            out = out + self._feature_view(x, self.bias)
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, bias={self.bias is not None}"
