"""Export of any time range of the daily data files as the legacy CSV, JSON or CF-1.8 NetCDF (meso360ctl export)."""
