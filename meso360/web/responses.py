"""Small response helpers shared by the route modules."""

import json

import bottle


def json_error(status, message, **extra):
    """Return a bottle.HTTPResponse with a JSON body {"ok": false, "error": message}."""
    body = json.dumps({"ok": False, "error": message, **extra})
    return bottle.HTTPResponse(body, status=status, headers={"Content-Type": "application/json"})


def json_body(document, status=200):
    """Return a bottle.HTTPResponse with `document` as JSON, not cached."""
    return bottle.HTTPResponse(
        json.dumps(document, separators=(",", ":")),
        status=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )
