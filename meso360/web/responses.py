"""Small response helpers shared by the route modules."""

import json

import bottle

# On every answer (app._SecurityHeaders) and the head of the streams written in the event loop (fanout._head).
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)
MAX_NUMBER_DIGITS = 18  # every number the API takes fits; int() of 5000 digits raises, of 4000 takes time


def whole_number(text, name, low, high):
    """Given the text of a query parameter or header, return it as an int from `low` to `high`.

    Only ASCII digits count ("²" is a digit to str.isdigit, not to int). Raise ValueError with a
    message for the client that names `name` and the range.
    """
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= MAX_NUMBER_DIGITS and low <= int(text) <= high:
        return int(text)
    shown = text if len(text) <= 40 else text[:40] + "..."
    raise ValueError(f"{name} must be a whole number from {low} to {high}, not {shown!r}")


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
