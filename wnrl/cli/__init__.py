"""The ``wnrl`` command line (also ``python -m wnrl``): argparse and dispatch only.

:mod:`wnrl.cli.commands` builds the parser and runs ``demo``, ``train``, ``evaluate`` and
``list``; :mod:`wnrl.cli.sweep` and :mod:`wnrl.cli.compare` add ``sweep`` and ``compare``;
:mod:`wnrl.cli.options` holds the options ``train`` and ``sweep`` share. The library does the
work: every handler calls into :mod:`wnrl.experiment`, :mod:`wnrl.sweep` or :mod:`wnrl.analysis`.
"""

from wnrl.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
