"""The layer library's public path (``wnrl.layers``, torch only): everything of :mod:`wnrl.nn`.

Code may import :mod:`wnrl.nn` directly; this path is the one the documentation uses.
"""

from wnrl.nn import *  # noqa: F403
from wnrl.nn import __all__  # noqa: F401
from wnrl.nn.layers import CHEAP_FORM_MIN_WEIGHTS  # noqa: F401
