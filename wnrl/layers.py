"""The layer library's public path (``wnrl.layers``, torch only): everything of :mod:`wnrl.nn`.

Kept for code and pickles written against wnrl's first layout; new code may import
:mod:`wnrl.nn` directly.
"""

from wnrl.nn import *  # noqa: F403
from wnrl.nn import __all__  # noqa: F401
from wnrl.nn.layers import CHEAP_FORM_MIN_WEIGHTS, _rebuild_tracked_parameter  # noqa: F401
