"""The "system" block of /api/status: the machine's uptime and a summary of the config, never a secret."""

import functools
import socket
import time
import urllib.parse

from meso360 import mdns


def machine_uptime_s():
    """Return the seconds since the machine booted (suspend included), read from the kernel clock, not /proc."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def listen_text(listen):
    """Given [web] listen as (host, port), return it as written in the config: 0.0.0.0:8080, [::]:8080."""
    host, port = listen
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def url_without_credentials(url):
    """Return `url` without a user:password@ part (the logger's credentials are not for the LAN)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@functools.lru_cache(maxsize=4)  # the config is frozen: one summary per host name (it may change at run time)
def config_summary(config, host_name):
    """Given the Config and the host name, return what legacy's Config card showed, in meso360's terms.

    Secrets stay out: web.password_hash, ingest.username/password, the tunnel's user and key are not in it.
    """
    tunnel = config.tunnel
    return {
        "logger_url": url_without_credentials(config.ingest.logger_url),
        "listen": listen_text(config.web.listen),
        "data_dir": str(config.general.data_dir),
        "support_dir": str(config.general.support_dir),
        "tunnel_host": tunnel.host or None,
        "tunnel_port": tunnel.remote_port,
        "mdns_name": mdns.service_name(config.web).replace("%h", host_name),
        "mdns_url": mdns.local_url(config.web, host_name),
    }


def system_summary(config):
    """Return the "system" block of /api/status: {"uptime_s", "config": config_summary}."""
    return {"uptime_s": round(machine_uptime_s()), "config": config_summary(config, socket.gethostname())}
