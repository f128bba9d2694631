"""The Kubernetes exporter: a `v1` `List` of one `ConfigMap` (the config) and one CronJob per task.

JSON is valid YAML, so `kubectl apply -f` reads the output as is. Each
`batch/v1` CronJob runs `python3 -m configure_task_scheduler --run ID --config
/etc/configure_task_scheduler/FILE` in `--image`, with the config mounted from
the ConfigMap, so validation, timeouts and redaction stay this project's.
A secret (`${NAME}` in `env`) comes from a Kubernetes Secret by reference:
its value is never written. Never runs a task.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from ...config import LoadedConfig
from ...task import Task
from .common import (
    Export,
    ExportError,
    cron_text,
    left_out,
    raw_env,
    run_arguments,
    secret_variables,
    verdict_of,
    zone_name,
)

MAX_NAME_LENGTH = 52  # a CronJob's name: its Jobs get an 11-character suffix within 63
MOUNT_DIRECTORY = "/etc/configure_task_scheduler"
# The CronJob controller checks its schedules every 10 seconds: a shorter
# starting deadline may never be met.
MIN_STARTING_DEADLINE_SECONDS = 10
_NAME_LABEL, _MANAGED_LABEL = "app.kubernetes.io/name", "app.kubernetes.io/managed-by"
_ID_ANNOTATION = "configure-task-scheduler/task-id"
_MANAGER = "configure-task-scheduler"


def kubernetes_name(task_id: str) -> str:
    """Return `task_id` as a DNS-1123 name: lowercase, "-", at most 52 characters.

    Raises:
        ExportError: nothing of the id is left (it has no letter or digit).
    """
    name = re.sub(r"[^a-z0-9]+", "-", task_id.lower())[:MAX_NAME_LENGTH].strip("-")
    if not name:
        raise ExportError(f'task "{task_id}": no Kubernetes name can be made from its id '
                          "(it needs a letter or a digit)")
    return name


def export_kubernetes(config: LoadedConfig, image: str, namespace: str,
                      secret: str) -> Export:
    """Return the `List` (as JSON text) and a verdict per task.

    Args:
        config: the validated config.
        image: the container image holding this package and the task code.
        namespace: every object's namespace.
        secret: the Kubernetes Secret holding the `${NAME}` variables (key NAME).

    Raises:
        ExportError: two task ids give the same name, or one gives none.
    """
    names = _unique_names(config.tasks)
    config_file = Path(config.path).name
    config_map = _config_map(config, namespace, config_file)
    items: list[dict[str, Any]] = [config_map]
    verdicts = []
    for task in config.tasks:
        cron = cron_text(task)
        if cron.reason or cron.expression == "@reboot":
            reason = cron.reason or "@reboot: a CronJob has no start of its own"
            verdicts.append(left_out(task, reason))
            continue
        job, approximations = _cron_job(config, task, names[task.task_id], cron.expression,
                                        image, namespace, secret, config_map, config_file)
        items.append(job)
        verdicts.append(verdict_of(task, cron.approximations + tuple(approximations),
                                   () if task.enabled else ("disabled: suspend: true",)))
    document = {"apiVersion": "v1", "kind": "List", "items": items}
    return Export(((f"{Path(config.path).stem}.k8s.json",
                    json.dumps(document, indent=2, ensure_ascii=False) + "\n"),),
                  tuple(verdicts))


def _unique_names(tasks: list[Task]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for task in tasks:
        name = kubernetes_name(task.task_id)
        if name in owners:
            raise ExportError(f'tasks "{owners[name]}" and "{task.task_id}" both become the '
                              f'Kubernetes name "{name}": rename one')
        owners[name] = task.task_id
    return {task_id: name for name, task_id in owners.items()}


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace,
            "labels": {_NAME_LABEL: name, _MANAGED_LABEL: _MANAGER}}


def _config_map(config: LoadedConfig, namespace: str, config_file: str) -> dict[str, Any]:
    name = kubernetes_name(Path(config.path).stem) + "-config"
    text = Path(config.path).read_text(encoding="utf-8")
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(name, namespace),
            "data": {config_file: text}}


def _cron_job(config: LoadedConfig, task: Task, name: str, schedule: str, image: str,
              namespace: str, secret: str, config_map: dict[str, Any],
              config_file: str) -> tuple[dict[str, Any], list[str]]:
    spec: dict[str, Any] = {"schedule": schedule}
    zone = zone_name(task)
    if zone is not None:
        spec["timeZone"] = zone
    policies, approximations = _policies(task)
    spec.update(policies)
    spec["suspend"] = not task.enabled
    container = _container(config, task, name, image, secret, config_file)
    pod = {"metadata": {"labels": {_NAME_LABEL: name, _MANAGED_LABEL: _MANAGER}},
           "spec": {"restartPolicy": "Never", "containers": [container],
                    "volumes": [{"name": "config",
                                 "configMap": {"name": config_map["metadata"]["name"]}}]}}
    job_spec: dict[str, Any] = {"backoffLimit": task.retries}
    if task.timeout_seconds is not None:
        job_spec["activeDeadlineSeconds"] = math.ceil(task.timeout_seconds)
    job_spec["template"] = pod
    metadata = _metadata(name, namespace)
    metadata["annotations"] = {_ID_ANNOTATION: task.task_id}
    spec["jobTemplate"] = {"spec": job_spec}
    return ({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata, "spec": spec},
            approximations)


def _policies(task: Task) -> tuple[dict[str, Any], list[str]]:
    """Return concurrencyPolicy and startingDeadlineSeconds, and every approximation."""
    approximations = _dropped(task)
    policies: dict[str, Any] = {
        "concurrencyPolicy": "Forbid" if task.max_instances == 1 else "Allow"}
    if task.max_instances > 1:
        approximations.append(f"max_instances {task.max_instances}: concurrencyPolicy "
                              "Allow has no cap")
    if task.misfire_grace_seconds is not None:
        deadline = max(MIN_STARTING_DEADLINE_SECONDS, math.ceil(task.misfire_grace_seconds))
        policies["startingDeadlineSeconds"] = deadline
        if deadline != task.misfire_grace_seconds:
            approximations.append(f"misfire_grace_seconds {task.misfire_grace_seconds:g}: "
                                  f"startingDeadlineSeconds {deadline}")
    return policies, approximations


def _dropped(task: Task) -> list[str]:
    dropped = []
    if task.jitter_seconds:
        dropped.append(f"jitter_seconds {task.jitter_seconds:g} dropped")
    if task.run_on_start:
        dropped.append("run_on_start dropped (a CronJob has no start)")
    if task.catch_up:
        dropped.append("catch_up dropped (startingDeadlineSeconds bounds late starts)")
    if task.retries:
        dropped.append("retry delays dropped (the Job controller's back-off applies)")
    if task.retries and task.timeout_seconds is not None:
        dropped.append("activeDeadlineSeconds bounds all attempts together (--run still "
                       "stops each at timeout_seconds)")
    return dropped


def _container(config: LoadedConfig, task: Task, name: str, image: str, secret: str,
               config_file: str) -> dict[str, Any]:
    command = run_arguments(task.task_id, f"{MOUNT_DIRECTORY}/{config_file}")
    container: dict[str, Any] = {"name": name, "image": image, "command": command}
    if task.cwd:
        container["workingDir"] = task.cwd
    env = _env(config, task, secret)
    if env:
        container["env"] = env
    container["volumeMounts"] = [{"name": "config", "mountPath": MOUNT_DIRECTORY,
                                  "readOnly": True}]
    return container


def _env(config: LoadedConfig, task: Task, secret: str) -> list[dict[str, Any]]:
    """Literal values as `value`; each variable a value takes, from the Secret by reference.

    `--run` expands "${NAME}" itself from the container's environment.
    """
    written = raw_env(config, task)
    env: list[dict[str, Any]] = [{"name": key, "value": value}
                                 for key, value in sorted(written.items())
                                 if "$" not in value and value not in task.secret_values]
    for name, has_default in secret_variables(written):
        reference: dict[str, Any] = {"name": secret, "key": name}
        if has_default:
            reference["optional"] = True
        env.append({"name": name, "valueFrom": {"secretKeyRef": reference}})
    return env
