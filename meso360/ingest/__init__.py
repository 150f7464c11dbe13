"""meso360-ingest: the logger-to-files daemon."""
