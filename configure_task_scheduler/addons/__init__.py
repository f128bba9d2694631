"""Add-ons: features built on the core's public face, which the core never imports.

Live reload, the schedule preview (`--next`, `--simulate`), the run history
(`history/`: SQLite, catch-up, the single-instance lock), the HTTP status
page, JSON API and metrics (`http/`), the exporters (`export/`: Kubernetes,
systemd, crontab, and `--import-crontab`), systemd's notify protocol
(`systemd_notify`) and failure notifications (`notify`: on_failure,
on_success). Each
add-on uses only what the packages' `__init__` files export (`Engine`,
`load_config`, run events, snapshots); none reaches into another package's
inner modules, and nothing in `config/`, `schedules/`, `engine/` or
`execution/` imports an add-on. The facades (`scheduler`, `cli`) wire them in.
"""
