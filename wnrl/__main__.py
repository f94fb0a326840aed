"""``python -m wnrl`` runs the command-line interface."""

from wnrl.cli import main

raise SystemExit(main())
