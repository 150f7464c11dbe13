"""Real-time quality control of the Obs rows: per-row checks, the daily YYYYMMDD_qc.txt sidecar and its counts."""
