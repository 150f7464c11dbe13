"""meso360ctl passwd: set (or clear) the operator password of the web control panel in the config file."""

import os
import re
import tempfile

import click

from meso360 import config as config_module
from meso360.ctl.context import config_option
from meso360.errors import ConfigError
from meso360.web.auth import hash_password

MIN_LENGTH = 8
_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]")
_KEY_RE = re.compile(r"^\s*password_hash\s*[=:]")


def set_password_hash(text, password_hash):
    """Given the config file text, return it with web.password_hash set; every other line is kept as it was."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new_line = f"password_hash = {password_hash}\n"
    section = None
    web_header = None
    for index, line in enumerate(lines):
        match = _SECTION_RE.match(line)
        if match:
            section = match.group(1).strip()
            if section == "web" and web_header is None:
                web_header = index
            continue
        if section == "web" and _KEY_RE.match(line):
            lines[index] = new_line
            return "".join(lines)
    if web_header is None:
        separator = "\n" if lines and lines[-1].strip() else ""
        return "".join(lines) + f"{separator}[web]\n{new_line}"
    lines.insert(web_header + 1, new_line)
    return "".join(lines)


def write_config_text(path, text):
    """Replace the file at `path` atomically with `text`, keeping its owner and group; return its new mode.

    The file holds the password hash: other users lose every right to it (a world-readable config
    becomes 0640, read by its group, the daemons' group); the owner's and group's rights are kept.
    """
    status = os.stat(path)
    mode = status.st_mode & 0o7770
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".meso360.conf.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        if os.geteuid() == 0:
            os.chown(temporary, status.st_uid, status.st_gid)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return mode


def _prompt():
    return click.prompt("New operator password", hide_input=True, confirmation_prompt="Repeat it")


def _read_stdin_line():
    """Return the first line of standard input without its line ending (the rest is not read)."""
    line = click.get_text_stream("stdin").readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise click.ClickException("--password-stdin: standard input has no password (an empty first line)")
    return password


@click.command("passwd", short_help="Set the operator password for the web control panel.")
@click.option("--clear", is_flag=True, help="Remove the password: the control panel becomes read-only.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts; no prompt, no repetition).",
)
@config_option(hidden=True)
@click.pass_obj
def passwd(ctl, clear, password_stdin):
    """Set the operator password for the web control panel (stored as a salted scrypt hash).

    Prompts for it twice; with --password-stdin, reads it from the first line of standard input
    (printf '%s\\n' "$PASSWORD" | sudo meso360ctl passwd --password-stdin). Needs write access
    to the config file (root: sudo meso360ctl passwd). Restart meso360-web afterwards:
    sudo systemctl restart meso360-web
    """
    if clear and password_stdin:
        raise click.UsageError("--clear and --password-stdin exclude each other")
    path = ctl.config_path
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error}") from error
    if not os.access(path, os.W_OK) or not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        raise click.ClickException(f"cannot write {path}: run it as root (sudo meso360ctl passwd)")
    if clear:
        new_hash = ""
    else:
        password = _read_stdin_line() if password_stdin else _prompt()
        if len(password) < MIN_LENGTH:
            raise click.ClickException(f"the password must have at least {MIN_LENGTH} characters")
        new_hash = hash_password(password)
    new_text = set_password_hash(text, new_hash)
    try:
        config_module.parse(new_text, path)
    except ConfigError as error:
        raise click.ClickException(f"{path} would not be valid; not changed:\n" + "\n".join(error.problems)) from None
    mode_before = os.stat(path).st_mode & 0o7777
    mode = write_config_text(path, new_text)
    state = "removed: the control panel is read-only" if clear else "set"
    click.echo(f"Operator password {state} in {path}.")
    if mode != mode_before:
        click.echo(f"{path} is now mode {mode:04o}: other users can no longer read it.")
    click.echo("Restart the web daemon to apply it: sudo systemctl restart meso360-web")
