"""``python -m tui_app`` runs ``agentsession-top``."""

from __future__ import annotations

import sys

from .app import main

sys.exit(main())
