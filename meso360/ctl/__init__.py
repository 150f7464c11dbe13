"""meso360ctl: the operator command line (status, control, logs, gap reports, preflight checks)."""
