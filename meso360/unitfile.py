"""Enable or disable one meso360 unit file, as root: the program of meso360-unitfile@.service.

The web daemon (user meso360-web) may not enable or disable unit files itself: systemd gives polkit no
unit name for that action, so a grant could not be limited to the meso360 units. Instead the polkit
rule lets it start exactly the instances `meso360-unitfile@<verb>-<component>.service`, and this
program, run by that root oneshot unit as `python3 -I -m meso360.unitfile %i`, checks the instance
name once more against the same allow-list and runs `systemctl <verb> meso360-<component>.service`
(never --now: starting and stopping is a separate action of the panel).

Anything but `enable|disable-ingest|web|tunnel|sim` exits 64 (EX_USAGE) without running systemctl;
a failing systemctl exits 1. Messages go to stderr, i.e. the journal of the instance, with syslog
priority prefixes (`<3>` error, `<6>` info) when stderr is the journal.
"""

import os
import shutil
import subprocess
import sys

from meso360.systemd_units import COMPONENTS, UNITFILE_VERBS, unit_name

EX_USAGE = 64
TIMEOUT_S = 60
USAGE = f"""usage: python3 -m meso360.unitfile VERB-COMPONENT

Run `systemctl VERB meso360-COMPONENT.service` (as root, without --now), for the template unit
meso360-unitfile@.service: its instance name is VERB-COMPONENT.

  VERB       {" | ".join(UNITFILE_VERBS)}
  COMPONENT  {" | ".join(COMPONENTS)}

Anything else exits {EX_USAGE} without running systemctl. Example:
  systemctl start meso360-unitfile@disable-sim.service
"""


class InvalidInstance(ValueError):
    """The instance name is not VERB-COMPONENT of the allow-list."""


def parse_instance(instance):
    """Given an instance name such as "enable-ingest", return (verb, unit); raise InvalidInstance."""
    allowed = [f"{verb}-{component}" for verb in UNITFILE_VERBS for component in COMPONENTS]
    if instance not in allowed:
        shown = instance if instance.isprintable() and len(instance) <= 100 else repr(instance[:100])
        raise InvalidInstance(f"refused instance {shown!r}: it must be one of {', '.join(allowed)}")
    verb, component = instance.split("-", 1)
    return verb, unit_name(component)


def _say(priority, message):
    prefix = f"<{priority}>" if os.environ.get("JOURNAL_STREAM") else ""
    for line in message.splitlines() or [""]:
        print(f"{prefix}meso360-unitfile: {line}", file=sys.stderr, flush=True)


def run(instance, systemctl=None):
    """Validate the instance and run systemctl; return the exit status (0, 1 or EX_USAGE)."""
    try:
        verb, unit = parse_instance(instance)
    except InvalidInstance as error:
        _say(3, str(error))
        return EX_USAGE
    systemctl = systemctl or shutil.which("systemctl", path="/usr/bin:/bin")
    if systemctl is None:
        _say(3, "systemctl not found in /usr/bin or /bin")
        return 1
    command = [systemctl, "--no-ask-password", verb, unit]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)  # noqa: S603  argv list, no shell: a unit of the allow-list
    except (OSError, subprocess.TimeoutExpired) as error:
        _say(3, f"systemctl {verb} {unit} failed: {error}")
        return 1
    output = (done.stderr + done.stdout).strip()
    if done.returncode != 0:
        _say(3, f"systemctl {verb} {unit} failed (exit {done.returncode}): {output or 'no message'}")
        return 1
    _say(6, f"systemctl {verb} {unit}: {output or 'nothing to change'}")
    return 0


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    if len(args) != 1:
        _say(3, f"expected one argument VERB-COMPONENT, got {len(args)}\n{USAGE}")
        return EX_USAGE
    return run(args[0])


if __name__ == "__main__":
    sys.exit(main())
