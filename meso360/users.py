"""The system users and group of the Debian package (debian/meso360.sysusers): one user per daemon, one group."""

# May read the config (0640 root:meso360) and the collected data; every daemon user has it as primary group.
GROUP = "meso360"
# Writes data_dir, support_dir and state_dir: the only user that can change the collected data.
INGEST_USER = "meso360-ingest"
# Reads the data (group), controls the meso360 units through the polkit rule; network-facing.
WEB_USER = "meso360-web"
# Reads the tunnel key (/etc/meso360/tunnel_key, 0600), which no other daemon can; writes state_dir/tunnel/.
TUNNEL_USER = "meso360-tunnel"
# Base's read-only rsync access (meso360ctl fleet authorize): reads data and support (group), never the state.
FLEET_USER = "meso360-fleet"
