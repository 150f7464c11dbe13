"""Reverse SSH tunnel: keeps a port on the bastion forwarded to the vehicle's sshd (meso360-tunnel)."""
