"""meso360-base: the bastion side of the fleet (rsync of every vehicle's files, Prometheus targets and rules)."""
