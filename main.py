"""Run the scheduler: `python3 main.py --config config/tasks.json` (see --help)."""

import signal
import sys

# Until main() installs its handlers, SIGHUP and SIGUSR1 would end the process
# without a word; nothing has started yet, so there is nothing to reload or report.
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.signal(signal.SIGUSR1, signal.SIG_IGN)

from configure_task_scheduler.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="python3 main.py"))
