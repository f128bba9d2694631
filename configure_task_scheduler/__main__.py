"""`python3 -m configure_task_scheduler` runs the command line.

Only an entry point: it calls `cli.main` and holds no logic of its own.
"""

import signal
import sys

# As in main.py: until main() installs its handlers, SIGHUP and SIGUSR1 are ignored.
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.signal(signal.SIGUSR1, signal.SIG_IGN)

from .cli import main  # noqa: E402

sys.exit(main(prog="python3 -m configure_task_scheduler"))
