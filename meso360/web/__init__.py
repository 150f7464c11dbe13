"""meso360-web: the dashboard, the control panel and the JSON/SSE API (Bottle on waitress)."""
