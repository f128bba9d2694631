"""`python3 -m configure_task_scheduler` runs the command line."""

import sys

from .cli import main

sys.exit(main(prog="python3 -m configure_task_scheduler"))
