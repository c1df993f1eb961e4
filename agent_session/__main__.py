"""``python -m agent_session`` is the ``agentsession`` command."""

import sys

from .cli import main

sys.exit(main())
