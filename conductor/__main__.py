"""``python -m conductor`` runs the CLI."""

import sys

from conductor.cli import main

sys.exit(main())
