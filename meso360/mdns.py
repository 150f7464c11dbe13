"""The avahi service file announcing the web panel, from the config: [web] listen (port) and mdns_name (name).

meso360-avahi.service runs `python3 -I -m meso360.mdns write` each time meso360-web starts and
`... remove` when it stops; avahi-daemon notices the change in /etc/avahi/services by itself.
"""

import argparse
import html
import ipaddress
import logging
import os
import sys
import tempfile
from pathlib import Path

from meso360 import config as config_module
from meso360.errors import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, ConfigError

SERVICE_FILE = Path("/etc/avahi/services/meso360.service")
DEFAULT_NAME = "meso360 on %h"  # %h: avahi puts in the host name
SERVICE_TYPE = "_http._tcp"

log = logging.getLogger("meso360.mdns")


def announced_protocol(listen):
    """Given [web] listen as (host, port), return the avahi protocol to announce it on (ipv4, ipv6, any), or None.

    None when the LAN cannot reach it: a loopback address, or port 0 (a free port chosen at start).
    """
    host, port = listen
    address = ipaddress.ip_address(host)
    if port == 0 or address.is_loopback:
        return None
    if address.version == 4:
        return "ipv4"
    return "any" if address.is_unspecified else "ipv6"  # "::" also accepts IPv4 (dual stack)


def service_name(web):
    """Return the announced name as the crew sees it in a service browser (%h stands for the host name)."""
    return web.mdns_name or DEFAULT_NAME


def local_url(web, host_name):
    """Return http://HOST.local:PORT/ for the panel as avahi announces it, or None when it is not announced."""
    if announced_protocol(web.listen) is None:
        return None
    return f"http://{host_name}.local:{web.listen[1]}/"


def render_service(web):
    """Given the WebConfig, return the avahi service file text, or None when the panel is not to be announced."""
    protocol = announced_protocol(web.listen)
    if protocol is None:
        return None
    if web.mdns_name:
        name = f"<name>{html.escape(web.mdns_name, quote=False)}</name>"  # taken literally: no wildcard is replaced
    else:
        name = f'<name replace-wildcards="yes">{DEFAULT_NAME}</name>'
    return f"""<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<!-- Written by meso360-avahi.service from /etc/meso360/meso360.conf ([web] listen, mdns_name) each time
     meso360-web starts; edit the config, not this file. -->
<service-group>
  {name}
  <service protocol="{protocol}">
    <type>{SERVICE_TYPE}</type>
    <port>{web.listen[1]}</port>
    <txt-record>path=/</txt-record>
  </service>
</service-group>
"""


def write_service(path, text):
    """Replace the file at `path` with `text` (mode 0644) in one rename: avahi never reads half a file."""
    fd, temporary = tempfile.mkstemp(prefix=".meso360.", suffix=".tmp", dir=path.parent)  # not *.service
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def remove_service(path):
    """Remove the service file at `path`; return whether there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def apply(config, path):
    """Write the service file for `config` at `path`, or remove it when the panel is not announced; say what."""
    text = render_service(config.web)
    if text is None:
        remove_service(path)
        host, port = config.web.listen
        return f"{path}: not announced: [web] listen = {host} port {port} is not reachable from the LAN"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return f"{path} already announces {service_name(config.web)!r} on port {config.web.listen[1]}"
    write_service(path, text)
    return f"{path}: announcing {service_name(config.web)!r} ({SERVICE_TYPE}) on port {config.web.listen[1]}"


def main(argv=None):
    """`python3 -m meso360.mdns write|remove [--config PATH] [--service-file PATH]`; return the exit code."""
    parser = argparse.ArgumentParser(prog="meso360.mdns", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("write", "remove"))
    parser.add_argument("--config", help="config file (default: $MESO360_CONFIG, else /etc/meso360/meso360.conf)")
    parser.add_argument("--service-file", type=Path, default=SERVICE_FILE, help=f"default: {SERVICE_FILE}")
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_request:
        return EXIT_OK if exit_request.code == 0 else EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = arguments.service_file
    if arguments.action == "remove":
        log.info("%s: %s", path, "removed" if remove_service(path) else "not there")
        return EXIT_OK
    try:
        config = config_module.load(arguments.config)
    except ConfigError as error:
        for problem in error.problems:
            log.error("%s", problem)
        log.error("the configuration is invalid: %s left as it was", path)
        return EXIT_CONFIG
    log.info("%s", apply(config, path))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
