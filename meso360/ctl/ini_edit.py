"""Set keys in an INI config text in place: every other line (comments, the password hash) is kept as it was."""

import configparser
import re

_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]")


def _key_re(key, commented):
    return re.compile(r"^\s*" + ("[#;]\\s*" if commented else "") + re.escape(key) + r"\s*[=:]")


def active_value(text, section, key):
    """Given config text, return the raw value of section.key as set in it (inline comment removed), or None."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    parser.read_string(text)
    if not parser.has_option(section, key):
        return None
    return parser.get(section, key).strip()


def set_key(text, section, key, value):
    """Given config text, return it with `key = value` in [section].

    An active line of the key is replaced; else the line goes after the commented default (`#key = ...`, as in
    the packaged config) or right after the section header; a missing section is added at the end.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new_line = f"{key} = {value}\n"
    active, commented = _key_re(key, False), _key_re(key, True)
    current = None
    header = commented_at = None
    for index, line in enumerate(lines):
        match = _SECTION_RE.match(line)
        if match:
            current = match.group(1).strip()
            if current == section and header is None:
                header = index
            continue
        if current != section:
            continue
        if active.match(line):
            lines[index] = new_line
            return "".join(lines)
        if commented.match(line) and commented_at is None:
            commented_at = index
    if header is None:
        separator = "\n" if lines and lines[-1].strip() else ""
        return "".join(lines) + f"{separator}[{section}]\n{new_line}"
    lines.insert((commented_at if commented_at is not None else header) + 1, new_line)
    return "".join(lines)
