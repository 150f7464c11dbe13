"""meso360ctl config import-legacy: the legacy meso360.config.json as meso360.conf keys, printed or written."""

import configparser
import datetime as dt
import grp
import os

import click

from meso360 import config as config_module
from meso360.ctl import legacy_import
from meso360.ctl.context import config_option
from meso360.ctl.ini_edit import active_value, set_key
from meso360.ctl.passwd_cmd import write_config_text
from meso360.errors import EXIT_CONFIG, ConfigError

CONFIG_GROUP = "meso360"  # the daemons' group reads the config (README "Users and permissions")
NEW_FILE_MODE = 0o640


def _fail(title, problems, exit_code=EXIT_CONFIG):
    click.echo(f"meso360ctl config import-legacy: {title}", err=True)
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    raise SystemExit(exit_code)


def _read_base(path):
    """Return the text of the config file at `path`, or None when there is none."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"cannot read {path}: {error}") from error


def _directories(base, path):
    """Return meso360's (data_dir, support_dir) from the config text (its defaults when it sets none or is invalid)."""
    try:
        general = config_module.parse(base or "", path).general
    except ConfigError:
        general = config_module.parse("").general
    return str(general.data_dir), str(general.support_dir)


def _same(section, key, current, new):
    parse_value = config_module.SCHEMA[section][key][1]
    try:
        return parse_value(current) == parse_value(new)
    except ValueError:
        return False


def merged_text(base, plan):
    """Given the config text and the ImportPlan, return (new text, [(Setting, value it replaces)])."""
    text = base
    conflicts = []
    for setting in plan.settings:
        current = active_value(text, setting.section, setting.key)
        if current is not None and not _same(setting.section, setting.key, current, setting.value):
            conflicts.append((setting, current))
        text = set_key(text, setting.section, setting.key, setting.value)
    return text, conflicts


def check_result(text, path, plan):
    """Validate the new text as the daemons do and check that each imported value reads back as written."""
    try:
        config = config_module.parse(text, path)
    except ConfigError as error:
        _fail(f"the result would not be a valid {path}; nothing written:", error.problems)
    mismatches = []
    for setting in plan.settings:
        wanted = config_module.SCHEMA[setting.section][setting.key][1](setting.value)
        if getattr(config.section(setting.section), setting.key) != wanted:
            mismatches.append(
                f"{setting.section}.{setting.key} = {setting.value!r} cannot be written in an INI file as is"
            )
    if mismatches:
        _fail("nothing written:", mismatches)


def report_lines(plan, legacy_file):
    lines = [f"Imported from {legacy_file}:"]
    for setting in plan.settings:
        lines.append(f"  {setting.source:<32} -> [{setting.section}] {setting.key} = {setting.value}")
    if plan.not_imported:
        lines.append("No equivalent in meso360.conf (not imported):")
        lines += [f"  {key}: {why}" for key, why in plan.not_imported]
    if plan.next_steps:
        lines.append("Still to do by hand:")
        lines += [f"  - {step}" for step in plan.next_steps]
    return lines


def _write_private_copy(path, text, status):
    """Create `path` (it must not exist) holding `text`, with the mode and owner of the file `status` describes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, status.st_mode & 0o770)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        if os.geteuid() == 0:
            os.fchown(file.fileno(), status.st_uid, status.st_gid)
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def backup(path, text):
    """Save `text` (the file at `path` before the import) beside it, same mode and owner; return the backup path."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    backup_path = f"{path}.{stamp}.bak"
    _write_private_copy(backup_path, text, os.stat(path))
    return backup_path


def create_config(path, text):
    """Create the config file at `path`: mode 0640, and as root owned by root:meso360 (it will hold the hash)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        if os.geteuid() == 0:
            try:
                os.fchown(file.fileno(), 0, grp.getgrnam(CONFIG_GROUP).gr_gid)
            except KeyError:
                pass  # no meso360 group (the package is not installed): root's group
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _check_writable(path, exists):
    directory = os.path.dirname(os.path.abspath(path))
    if (exists and not os.access(path, os.W_OK)) or not os.access(directory, os.W_OK):
        raise click.ClickException(f"cannot write {path}: run it as root (sudo meso360ctl config import-legacy ...)")


@click.command("import-legacy")
@click.argument("legacy_file", metavar="LEGACY_JSON")
@click.option("--vehicle", metavar="NAME", help="Vehicle name to set ([meso360] vehicle; legacy had none).")
@click.option(
    "--write",
    "write_file",
    is_flag=True,
    help="Write the result into the config file (--config; a backup of it is kept beside it).",
)
@click.option("--force", is_flag=True, help="With --write: replace values the config file already sets otherwise.")
@config_option(hidden=True)
@click.pass_obj
def import_legacy(ctl, legacy_file, vehicle, write_file, force):
    """Translate the legacy meso360.config.json into meso360.conf keys.

    Without --write, prints the config file as it would become (the current one, else the packaged
    defaults, with the imported keys) on standard output and the report on standard error: nothing is
    changed. With --write, sets those keys in the config file (--config, default
    /etc/meso360/meso360.conf), keeping every other line, its mode and owner, after saving it as
    FILE.<UTC time>.bak; a key the file already sets to another value is replaced only with --force.
    Lists what has no equivalent and why, and the steps left (data files, tunnel key, host name).
    Exit codes: 0 done, 1 refused (values differ, no --force; or no write access), 78 bad legacy
    file or an invalid result (every problem listed; nothing written).
    """
    path = ctl.config_path
    base = _read_base(path)
    data_dir, support_dir = _directories(base, path)
    try:
        legacy = legacy_import.read_legacy(legacy_file)
        plan = legacy_import.plan_import(legacy, legacy_file, vehicle, data_dir, support_dir)
    except legacy_import.LegacyConfigError as error:
        _fail("cannot import the legacy config (nothing written):", error.problems)
    try:
        text, conflicts = merged_text(base if base is not None else config_module.example_text(), plan)
    except configparser.Error as error:
        _fail(f"{path} is not a valid INI file; nothing written:", [str(error)])
    check_result(text, path, plan)
    replaced = [f"[{s.section}] {s.key} = {current}  (import: {s.value})" for s, current in conflicts]
    report = report_lines(plan, legacy_file)

    if not write_file:
        click.echo(text, nl=False)
        click.echo("\n".join(report), err=True)
        click.echo(f"Nothing written. To set these keys in {path}: add --write.", err=True)
        if replaced:
            click.echo(f"{path} sets other values; --write needs --force to replace them:", err=True)
            click.echo("\n".join(f"  {line}" for line in replaced), err=True)
        return
    if replaced and not force:
        _fail(f"{path} already sets other values; nothing written (add --force to replace them):", replaced, 1)
    _check_writable(path, base is not None)
    if base == text:
        click.echo(f"{path} already has these values: not changed.")
    elif base is None:
        create_config(path, text)
        click.echo(f"Created {path} (mode {NEW_FILE_MODE:04o}).")
    else:
        saved = backup(path, base)
        write_config_text(path, text)
        click.echo(f"Updated {path} (the previous version is {saved}).")
    click.echo("\n".join(report))
    click.echo("Then: sudo meso360ctl config validate && sudo systemctl restart meso360.target")
