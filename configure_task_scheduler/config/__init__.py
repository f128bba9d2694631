"""Config: a file in, validated `Task`s and one-line problems out.

Owns the file format (JSON or TOML), the per-field readers and checks, the
import of Python entry points and the file-safety rule (refuse a config others
can edit). Never runs, plans or schedules anything, and never reads the clock:
it builds `Task` records for the registry and the engine to use.
"""

from .checks import HTTP_ADDRESS_EXPECTED, parse_http_address
from .entry_points import default_task_id
from .loader import LoadedConfig, load_config, read_settings, read_task
from .notifications import notification_problems
from .reference import SchedulerSettings
from .safety import insecure_config_reason

__all__ = [
    "HTTP_ADDRESS_EXPECTED", "LoadedConfig", "SchedulerSettings", "default_task_id",
    "insecure_config_reason", "load_config", "notification_problems", "parse_http_address",
    "read_settings", "read_task",
]
