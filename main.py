"""Run the scheduler: `python3 main.py --config config/tasks.json` (see --help)."""

import sys

from configure_task_scheduler.cli import main

if __name__ == "__main__":
    sys.exit(main())
