"""``python -m nlbtut`` runs the command line."""

import sys

from nlbtut.cli import main

sys.exit(main())
