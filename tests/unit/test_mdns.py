"""The avahi service file of meso360-avahi.service: port from [web] listen, name from [web] mdns_name."""

import configparser
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from meso360 import config as config_module
from meso360 import mdns
from meso360.errors import EXIT_CONFIG, ConfigError

UNIT = Path(__file__).resolve().parents[2] / "units" / "meso360-avahi.service"


def web_config(listen="0.0.0.0:8080", mdns_name=""):
    text = f"[web]\nlisten = {listen}\n" + (f"mdns_name = {mdns_name}\n" if mdns_name else "")
    return config_module.parse(text, "test.conf")


def parsed(text):
    """Given service file text, return (name element, service element) of the parsed XML."""
    body = text.split("\n", 2)[2]  # without the XML declaration and the DOCTYPE (ElementTree resolves no DTD)
    root = ET.fromstring(body)  # noqa: S314  our own rendered text, not untrusted input
    assert root.tag == "service-group"
    return root.find("name"), root.find("service")


@pytest.mark.parametrize(
    ("listen", "protocol", "port"),
    [
        ("0.0.0.0:8080", "ipv4", "8080"),
        ("0.0.0.0:80", "ipv4", "80"),
        ("192.168.4.10:8443", "ipv4", "8443"),
        ("[::]:9090", "any", "9090"),
        ("[fe80::1]:8081", "ipv6", "8081"),
        ("[fd00:4::2]:8082", "ipv6", "8082"),
    ],
)
def test_the_service_is_announced_on_the_port_and_protocol_of_listen(listen, protocol, port):
    name, service = parsed(mdns.render_service(web_config(listen).web))
    assert service.get("protocol") == protocol
    assert service.findtext("port") == port
    assert service.findtext("type") == "_http._tcp"
    assert service.findtext("txt-record") == "path=/"
    assert name.text == "meso360 on %h" and name.get("replace-wildcards") == "yes"


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "127.0.0.2:8080", "[::1]:8080", "0.0.0.0:0"])
def test_a_panel_the_lan_cannot_reach_is_not_announced(listen):
    config = web_config(listen)
    assert mdns.render_service(config.web) is None
    assert mdns.local_url(config.web, "rack") is None


def test_the_configured_name_is_written_literally_and_xml_escaped():
    config = web_config(mdns_name='MM2 <rack> & "van" 100%h')
    text = mdns.render_service(config.web)
    assert "MM2 &lt;rack&gt; &amp;" in text
    name, _service = parsed(text)
    assert name.text == 'MM2 <rack> & "van" 100%h'
    assert name.get("replace-wildcards") is None  # avahi's default: no, so %h stays as typed


def test_the_local_url_uses_the_host_name_and_the_listen_port():
    assert mdns.local_url(web_config("0.0.0.0:8443").web, "mm2-rack") == "http://mm2-rack.local:8443/"


@pytest.mark.parametrize(
    "value",
    ["x" * 64, "é" * 32, "tab\there", "bell\x07"],
)
def test_a_bad_mdns_name_is_a_config_error(value):
    with pytest.raises(ConfigError) as error:
        config_module.parse(f"[web]\nmdns_name = {value}\n", "test.conf")
    assert any(p.startswith("test.conf: web.mdns_name = ") and "63 bytes" in p for p in error.value.problems)


def test_a_name_of_63_bytes_is_accepted():
    assert config_module.parse("[web]\nmdns_name = " + "é" * 31 + "x\n").web.mdns_name == "é" * 31 + "x"


def write_conf(tmp_path, listen, mdns_name=""):
    path = tmp_path / "meso360.conf"
    parser = configparser.ConfigParser(interpolation=None)
    parser["web"] = {"listen": listen, **({"mdns_name": mdns_name} if mdns_name else {})}
    with open(path, "w", encoding="utf-8") as file:
        parser.write(file)
    return path


def run_as_the_unit(*arguments):
    """Run `python3 -m meso360.mdns ARGUMENTS` from / in a clean environment, as ExecStart= does, except that -I
    becomes PYTHONPATH: in the package build's tree meso360 is importable from that tree only."""
    package_parent = str(Path(mdns.__file__).resolve().parents[1])
    return subprocess.run(
        [sys.executable, "-s", "-m", "meso360.mdns", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
        env={"PATH": os.environ["PATH"], "PYTHONPATH": package_parent},
        check=False,
    )


def test_the_unit_program_writes_replaces_and_removes_the_file(tmp_path):
    services = tmp_path / "services"
    services.mkdir()
    target = services / "meso360.service"
    conf = write_conf(tmp_path, "0.0.0.0:8123", "mesoview")
    result = run_as_the_unit("write", "--config", str(conf), "--service-file", str(target))
    assert result.returncode == 0, result.stderr
    assert f"{target}: announcing 'mesoview' (_http._tcp) on port 8123" in result.stderr
    assert "<port>8123</port>" in target.read_text() and "<name>mesoview</name>" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in services.iterdir()] == ["meso360.service"]  # no temporary file left

    conf = write_conf(tmp_path, "[::]:9000")
    assert mdns.main(["write", "--config", str(conf), "--service-file", str(target)]) == 0
    assert '<service protocol="any">' in target.read_text() and "<port>9000</port>" in target.read_text()

    conf = write_conf(tmp_path, "127.0.0.1:8080")  # loopback only: the announcement goes away
    assert mdns.main(["write", "--config", str(conf), "--service-file", str(target)]) == 0
    assert not target.exists()

    conf = write_conf(tmp_path, "0.0.0.0:8080")
    assert mdns.main(["write", "--config", str(conf), "--service-file", str(target)]) == 0
    assert mdns.main(["remove", "--service-file", str(target)]) == 0
    assert not target.exists()
    assert mdns.main(["remove", "--service-file", str(target)]) == 0  # nothing there: still fine


def test_an_invalid_config_leaves_the_file_and_exits_78(tmp_path, caplog):
    target = tmp_path / "meso360.service"
    target.write_text("before\n")
    conf = tmp_path / "bad.conf"
    conf.write_text("[web]\nlisten = 8080\n")
    assert mdns.main(["write", "--config", str(conf), "--service-file", str(target)]) == EXIT_CONFIG
    assert target.read_text() == "before\n"
    assert "web.listen = '8080'" in caplog.text


def test_the_unit_runs_at_each_web_start_and_is_skipped_without_avahi():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    assert parser["Install"]["WantedBy"] == "meso360-web.service"
    assert parser["Unit"]["BindsTo"] == "meso360-web.service"
    assert parser["Unit"]["After"] == "meso360-web.service"
    assert parser["Unit"]["ConditionPathIsDirectory"] == str(mdns.SERVICE_FILE.parent)
    assert parser["Service"]["ExecStart"] == "/usr/bin/python3 -I -m meso360.mdns write"
    assert parser["Service"]["ExecStop"] == "/usr/bin/python3 -I -m meso360.mdns remove"
    assert parser["Service"]["ReadWritePaths"] == f"-{mdns.SERVICE_FILE.parent}"
    assert parser["Service"]["RemainAfterExit"] == "yes"
