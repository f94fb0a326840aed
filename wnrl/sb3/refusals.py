"""Where the policies refuse a norm their agents do not take (:data:`wnrl.names.REFUSED_NORMS`),
and the one place they accept it: rebuilding a model saved before the refusal.

Standard library only (with :mod:`wnrl.names` and :mod:`wnrl.errors`), so the checkpoint code
that reads run directories without SB3 can open a loading block too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from wnrl.errors import ConfigError
from wnrl.names import FAMILY_AGENTS, norm_refusal

#: True while :func:`loading_saved_models` runs
_LOADING_SAVED: ContextVar[bool] = ContextVar("wnrl_loading_saved_models", default=False)


@contextlib.contextmanager
def loading_saved_models() -> Iterator[None]:
    """Within the block (this thread or task only), policies are rebuilt from saved files: a
    norm their agents refuse is accepted, so that a model or checkpoint saved before the
    refusal still loads (``wnrl.load``, ``wnrl evaluate``, ``wnrl train --resume``)."""
    token = _LOADING_SAVED.set(True)
    try:
        yield
    finally:
        _LOADING_SAVED.reset(token)


def check_offered(family: str, norm: str) -> None:
    """A one-line ConfigError if the agents of the policy ``family`` refuse ``norm``, unless a
    saved model is being loaded (:func:`loading_saved_models`)."""
    refusal = norm_refusal(FAMILY_AGENTS[family], norm)
    if refusal is not None and not _LOADING_SAVED.get():
        raise ConfigError(f"{refusal}; a model saved with it loads with wnrl.load")
