"""Parsers of config values: each returns the parsed value or raises ValueError saying what is allowed."""

import ipaddress
import urllib.parse
from pathlib import Path

from meso360.web.auth import is_valid_hash  # the hash format belongs to the web daemon's auth module


def free_text(value):
    return value


def absolute_path(value):
    if not value.startswith("/"):
        raise ValueError("an absolute path (starting with /)")
    return Path(value)


def url(value):
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL with a host, e.g. http://192.168.4.6")
    try:
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise ValueError("a URL with a valid port number") from None
    if parts.query or parts.fragment:
        raise ValueError("a URL without ?query or #fragment")
    return value.rstrip("/")


def table_name(value):
    if value and not value.replace("_", "").isalnum():
        raise ValueError("a logger table name (letters, digits, _)")
    return value


def seconds_between(low, high, why=""):
    """Return a parser of a number of seconds from `low` to `high`; `why` explains the range in the error."""
    return _number_between(
        float, low, high, f"a number of seconds between {low} and {high}" + (f" ({why})" if why else "")
    )


def number_between(low, high, unit):
    """Return a parser of a decimal number from `low` to `high`, in `unit` (said in the error)."""
    return _number_between(float, low, high, f"a number between {low:g} and {high:g} ({unit})")


def whole_number_between(low, high, optional=False):
    """Return a parser of a whole number from `low` to `high`; `optional`: an empty value gives None."""
    allowed = f"a whole number between {low} and {high}" + (" or empty" if optional else "")
    return _number_between(int, low, high, allowed, optional)


def port_or_off(low, high):
    """Return a parser of a TCP port from `low` to `high`, or 0 (also empty) meaning off; off gives 0."""
    port = _number_between(int, low, high, f"0 (off) or a port between {low} and {high}")

    def parse(value):
        return 0 if value in ("", "0") else port(value)

    return parse


def _number_between(convert, low, high, allowed, optional=False):
    def parse(value):
        if optional and value == "":
            return None
        try:
            number = convert(value)
        except ValueError:
            raise ValueError(allowed) from None
        if not low <= number <= high:
            raise ValueError(allowed)
        return number

    return parse


def one_of(*choices):
    def parse(value):
        if value not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return value

    return parse


def listen_address(value):
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        if not sep:
            raise ValueError
        ipaddress.ip_address(host)
        port_number = int(port)
        if not 0 <= port_number <= 65535:
            raise ValueError
    except ValueError:
        raise ValueError("ADDRESS:PORT with an IP address, e.g. 0.0.0.0:8080 or 127.0.0.1:8080") from None
    return (host, port_number)


def name_without_spaces(what):
    """Return a parser of a host or user name: `what`, without spaces, not starting with - (an option to ssh)."""

    def parse(value):
        if value and (any(c.isspace() for c in value) or value.startswith("-")):
            raise ValueError(f"{what} (no spaces, not starting with -)")
        return value

    return parse


MDNS_NAME_MAX_BYTES = 63  # a DNS label: the longest DNS-SD service instance name


def mdns_name(value):
    """The name the panel is announced under (DNS-SD instance name): UTF-8 text, no control characters."""
    if len(value.encode("utf-8")) > MDNS_NAME_MAX_BYTES or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(
            f"at most {MDNS_NAME_MAX_BYTES} bytes of text without control characters, e.g. mesoview"
            " (empty: meso360 on <host name>)"
        )
    return value


def password_hash(value):
    if value and not is_valid_hash(value):
        raise ValueError(
            "empty or a hash made by `meso360ctl passwd` (scrypt$N$r$p$salt$hash); as it is, every login"
            " would fail: set it with sudo meso360ctl passwd"
        )
    return value
