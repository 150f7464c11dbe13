"""meso360-base-web: the fleet page of the base (map, table, alarms, downloads), live over SSE from one snapshot."""
