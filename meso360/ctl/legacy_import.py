"""Translate the legacy meso360.config.json into meso360.conf keys, and say what has no equivalent and why."""

import dataclasses
import ipaddress
import json
import os
import pwd
import shlex

from meso360 import config_values

# The legacy supervisor's defaults (LEGACY.md section 0) where they differ from meso360's: a key missing
# from the legacy file still meant this value on the vehicle.
LEGACY_DEFAULT_DATA_DIR = "~/data/raw/mesonet"
LEGACY_DEFAULT_MDNS_HOSTNAME = "mesoview"
LEGACY_TUNNEL = "clamps@remote.bliss.science"  # legacy's hard-coded bastion (user@host) and key
LEGACY_TUNNEL_KEY = "~/.ssh/clamps_rsa"

NO_EQUIVALENT = {
    "log_dir": "no log files: the daemons log to the journal (meso360ctl logs [-f], journalctl -u 'meso360-*')",
    "ingest_retry_max": "ingest retries forever with a back-off of 1 s doubling to 30 s, then backfills every"
    " record the logger still holds (legacy gave up after ingest_retry_max tries)",
    "ingest_retry_delay": "see ingest_retry_max: the back-off is built in",
    "data_dir_windows": "never read by legacy (only in its example file)",
    "log_dir_windows": "never read by legacy (only in its example file)",
    "_path_format_note": "a comment of legacy's example file",
}
ENABLED_KEYS = {"mesoingest_enabled": "ingest", "mesosync_enabled": "tunnel"}


class LegacyConfigError(ValueError):
    """The legacy file cannot be imported: .problems lists every reason (file: key = value: what is allowed)."""

    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class Setting:
    section: str
    key: str
    value: str
    source: str  # what it comes from, e.g. 'http_port = 8080'


@dataclasses.dataclass
class ImportPlan:
    """What the legacy file becomes: settings to write, keys with no equivalent (key, why), steps left to do."""

    settings: list = dataclasses.field(default_factory=list)
    not_imported: list = dataclasses.field(default_factory=list)
    next_steps: list = dataclasses.field(default_factory=list)


def read_legacy(path):
    """Return the legacy config as a dict. Raise LegacyConfigError if it is unreadable or not a JSON object."""
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except OSError as error:
        raise LegacyConfigError([f"{path}: cannot read it: {error.strerror}"]) from error
    except UnicodeDecodeError as error:
        raise LegacyConfigError([f"{path}: not UTF-8 text: {error}"]) from error
    except json.JSONDecodeError as error:
        raise LegacyConfigError(
            [f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"]
        ) from error
    if not isinstance(document, dict):
        raise LegacyConfigError(
            [f"{path}: not a legacy config: a JSON object {{...}} expected, found {_kind(document)}"]
        )
    return document


def _kind(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def _port(value, optional=False):
    """A legacy port: a whole number (or its digits as a string); None when `optional` and null/0."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValueError
    number = int(str(value).strip())
    if optional and number == 0:
        return None
    if not 1 <= number <= 65535:
        raise ValueError
    return number


def logger_url(logger_ip):
    """Given legacy's logger_ip (host or host:port, as in http://{logger_ip}/), return the [ingest] logger_url."""
    if not isinstance(logger_ip, str) or not logger_ip.strip() or any(c in logger_ip for c in "/?#@ "):
        raise ValueError
    host = logger_ip.strip()
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"  # a bare IPv6 address needs brackets in a URL
    except ValueError:
        pass
    return config_values.url(f"http://{host}")


def home_of_owner(path):
    """Return the home directory of the owner of `path` (the legacy ran as that user: `~` was theirs), or None."""
    try:
        return pwd.getpwuid(os.stat(path).st_uid).pw_dir
    except (KeyError, OSError):
        return None


def expand_home(path_text, home):
    if home and (path_text == "~" or path_text.startswith("~/")):
        return home + path_text[1:]
    return path_text


def plan_import(legacy, source, vehicle=None, data_dir="/var/lib/meso360/data", support_dir="/var/lib/meso360/support"):
    """Given the legacy dict (read from `source`), return an ImportPlan. Raise LegacyConfigError for bad values.

    `vehicle`: the vehicle name to set (legacy had none). `data_dir`, `support_dir`: meso360's, where the
    legacy daily files are to be copied.
    """
    plan = ImportPlan()
    problems = []

    def bad(key, allowed):
        problems.append(f"{source}: {key} = {json.dumps(legacy[key])}: must be {allowed}")

    _logger_and_port(legacy, plan, bad)
    _mdns_name(legacy, plan, bad)
    _tunnel_port(legacy, plan, bad)
    if vehicle is not None:
        plan.settings.append(Setting("meso360", "vehicle", config_values.free_text(vehicle), "--vehicle"))
    else:
        plan.next_steps.append("vehicle: legacy had no vehicle name; set it with --vehicle NAME (e.g. MM2)")
    _data_files(legacy, source, plan, problems, data_dir, support_dir)
    _start_at_boot(legacy, plan, bad)
    _keys_without_setting(legacy, plan)
    if problems:
        raise LegacyConfigError(problems)
    return plan


def _logger_and_port(legacy, plan, bad):
    """logger_ip and http_port: [ingest] logger_url and [web] listen."""
    if "logger_ip" in legacy:
        try:
            url = logger_url(legacy["logger_ip"])
            plan.settings.append(Setting("ingest", "logger_url", url, f"logger_ip = {json.dumps(legacy['logger_ip'])}"))
        except ValueError:
            bad("logger_ip", "the logger's address, host or host:port (e.g. 192.168.4.6)")
    if "http_port" in legacy:
        try:
            port = _port(legacy["http_port"])
            plan.settings.append(
                Setting("web", "listen", f"0.0.0.0:{port}", f"http_port = {json.dumps(legacy['http_port'])}")
            )
        except ValueError:
            bad("http_port", "a port number from 1 to 65535")


def _mdns_name(legacy, plan, bad):
    """mdns_hostname (legacy's default when absent): [web] mdns_name, and how to keep legacy's NAME.local address."""
    name = legacy.get("mdns_hostname", LEGACY_DEFAULT_MDNS_HOSTNAME)
    try:
        if not isinstance(name, str) or not name.strip():
            raise ValueError
        mdns_name = config_values.mdns_name(name.strip())
        source_text = "mdns_hostname = " + json.dumps(name) if "mdns_hostname" in legacy else "legacy's default name"
        plan.settings.append(Setting("web", "mdns_name", mdns_name, source_text))
        plan.next_steps.append(
            f"mDNS: the panel is announced as {mdns_name!r} (service browsers list it by that name). Legacy also"
            f" answered to http://{mdns_name}.local:PORT/: for that address, name the computer so:"
            f" sudo hostnamectl set-hostname {shlex.quote(mdns_name)}"
        )
    except ValueError:
        bad("mdns_hostname", "a name of at most 63 bytes without control characters, e.g. mesoview")


def _tunnel_port(legacy, plan, bad):
    """rtun_port: [tunnel] remote_port, and the steps to a key of the vehicle's own (0/null: no tunnel)."""
    if legacy.get("rtun_port") not in (None, 0, "0"):
        try:
            remote_port = _port(legacy["rtun_port"], optional=True)
            plan.settings.append(
                Setting("tunnel", "remote_port", str(remote_port), f"rtun_port = {json.dumps(legacy['rtun_port'])}")
            )
            plan.next_steps.append(
                f"tunnel: legacy went to {LEGACY_TUNNEL} with the key {LEGACY_TUNNEL_KEY}, shared by every vehicle."
                " meso360 uses a key of its own and pins the bastion's host key: sudo meso360ctl tunnel keygen,"
                " add the printed public key on the bastion, sudo meso360ctl tunnel trust BASTION, then set"
                " [tunnel] host and user (the tunnel stays off until host is set)"
            )
        except ValueError:
            bad("rtun_port", "a port number from 1 to 65535, or 0/null for no tunnel (legacy ran without one)")
    elif "rtun_port" in legacy:
        plan.not_imported.append(("rtun_port", "0/null: no tunnel, as meso360 while [tunnel] host is empty"))


def _start_at_boot(legacy, plan, bad):
    """mesoingest_enabled, mesosync_enabled: whether systemd starts the component at boot is not a setting."""
    for key, component in ENABLED_KEYS.items():
        if key in legacy:
            if legacy[key] is True:
                plan.not_imported.append((key, f"nothing to do: the package starts {component} at boot"))
            elif legacy[key] is False:
                plan.not_imported.append(
                    (key, f"start at boot is systemd's: legacy had it off: sudo meso360ctl disable {component} --now")
                )
            else:
                bad(key, "true or false")


def _keys_without_setting(legacy, plan):
    """The keys with no meso360 equivalent (and why), and those legacy did not know either."""
    known = {"logger_ip", "http_port", "mdns_hostname", "rtun_port", "data_dir", *NO_EQUIVALENT, *ENABLED_KEYS}
    for key in legacy:
        if key in NO_EQUIVALENT:
            plan.not_imported.append((key, NO_EQUIVALENT[key]))
        elif key not in known:
            plan.not_imported.append((key, "not a key of the legacy system either (it ignored it)"))


def _data_files(legacy, source, plan, problems, data_dir, support_dir):
    """The legacy data directory: not a setting (the daemons write only their own), but files to copy over."""
    legacy_dir = legacy.get("data_dir", LEGACY_DEFAULT_DATA_DIR)
    if not isinstance(legacy_dir, str) or not legacy_dir.strip():
        problems.append(f"{source}: data_dir = {json.dumps(legacy_dir)}: must be a directory path")
        return
    home = home_of_owner(source)
    directory = expand_home(legacy_dir.strip(), home).rstrip("/") or "/"
    shown = legacy_dir if directory == legacy_dir else f"{legacy_dir} ({directory})"
    plan.not_imported.append(
        (
            "data_dir" if "data_dir" in legacy else "data_dir (legacy default)",
            f"{shown}: the daemons write only {data_dir} and {support_dir} (systemd sandbox: their state"
            " directories; home directories are invisible to them); copy the daily files there (same format)",
        )
    )
    quoted, support = shlex.quote(directory), shlex.quote(directory + "_support")
    data_dir, support_dir = shlex.quote(str(data_dir)), shlex.quote(str(support_dir))
    plan.next_steps.append(
        "data: copy the legacy daily files (existing ones are kept: cp -n), then give them to ingest:\n"
        "    sudo systemctl stop meso360-ingest\n"
        f"    sudo cp -n --preserve=timestamps {quoted}/????????.txt {data_dir}/\n"
        f"    sudo cp -n --preserve=timestamps {support}/????????_support.txt {support_dir}/\n"
        f"    sudo chown meso360-ingest:meso360 {data_dir}/* {support_dir}/*\n"
        f"    sudo chmod 0640 {data_dir}/* {support_dir}/*\n"
        "    sudo systemctl start meso360-ingest"
    )
