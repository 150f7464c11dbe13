"""scripts/fetch_assets.sh: web libraries are installed only from tarballs whose sha512 matches the pinned one.

Not real here: the npm registry. A fake `npm` first on PATH stands for it (the real registry cannot be made to
serve a tampered tarball, and the tests stay on loopback); the genuine tarballs are the ones `make assets`
verified into .cache/assets.
"""

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "fetch_assets.sh"
GENUINE_CACHE = ROOT / ".cache" / "assets"
TARBALLS = ("uplot-1.6.32.tgz", "topojson-client-3.1.0.tgz", "us-atlas-3.0.1.tgz")
FAKE_NPM = """#!/bin/sh
# Fake npm: `npm pack --silent NAME@VERSION` writes a tampered NAME-VERSION.tgz; every call is logged.
echo "$*" >> "$FAKE_NPM_LOG"
[ "$FAKE_NPM_FAIL" = 1 ] && exit 1
spec=$3
cp "$FAKE_NPM_TARBALL" "$(echo "$spec" | sed 's/@/-/').tgz"
"""


def tampered_tarball(path):
    """Write an npm-like tarball with a us-atlas file of other content (so another sha512)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("package/counties-10m.json", '{"type":"Topology"}'), ("package/LICENSE", "ISC")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def run(tmp_path):
    """run(cached=[...], npm_fails=False): run the script with its own cache and vendor dirs; return the result."""
    missing = [name for name in TARBALLS if not (GENUINE_CACHE / name).is_file()]
    if missing:
        pytest.fail(f"genuine tarballs missing in {GENUINE_CACHE}: {missing} (run `make assets`)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(0o755)
    tampered_tarball(tmp_path / "tampered.tgz")
    cache = tmp_path / "cache"
    cache.mkdir()
    vendor = tmp_path / "vendor"
    npm_log = tmp_path / "npm.log"
    npm_log.touch()

    def runner(cached, npm_fails=False, tampered_in_cache=()):
        for name in cached:
            (cache / name).write_bytes((GENUINE_CACHE / name).read_bytes())
        for name in tampered_in_cache:
            (cache / name).write_bytes((tmp_path / "tampered.tgz").read_bytes())
        env = dict(
            os.environ,
            PATH=f"{bin_dir}:/usr/bin:/bin",
            MESO360_ASSET_CACHE=str(cache),
            MESO360_ASSET_VENDOR=str(vendor),
            FAKE_NPM_LOG=str(npm_log),
            FAKE_NPM_TARBALL=str(tmp_path / "tampered.tgz"),
            FAKE_NPM_FAIL="1" if npm_fails else "0",
        )
        result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
        result.npm_calls = npm_log.read_text().splitlines()
        result.cache = cache
        result.vendor = vendor
        return result

    return runner


def test_a_map_tarball_with_the_wrong_integrity_is_refused_and_nothing_is_installed(run):
    result = run(cached=TARBALLS[:2])  # uPlot and topojson-client genuine, us-atlas from the "registry"
    assert result.returncode == 1
    assert "us-atlas-3.0.1.tgz does not match the pinned sha512 integrity; refusing it" in result.stderr
    assert result.npm_calls == ["pack --silent us-atlas@3.0.1"]
    assert not (result.cache / "us-atlas-3.0.1.tgz").exists(), "the refused tarball is deleted"
    assert not result.vendor.exists(), "nothing installed, not even the verified libraries"


def test_a_tampered_tarball_in_the_cache_is_fetched_again_and_refused_again(run):
    result = run(cached=TARBALLS[1:], tampered_in_cache=TARBALLS[:1])
    assert result.returncode == 1
    assert result.npm_calls == ["pack --silent uplot@1.6.32"]
    assert "uplot-1.6.32.tgz does not match the pinned sha512 integrity" in result.stderr
    assert not result.vendor.exists()


def test_verified_tarballs_install_uplot_topojson_and_the_us_atlas_without_the_registry(run):
    result = run(cached=TARBALLS, npm_fails=True)
    assert result.returncode == 0, result.stderr
    assert result.npm_calls == []
    installed = sorted(path.name for path in result.vendor.iterdir())
    assert installed == sorted(
        [
            "uPlot.iife.min.js",
            "uPlot.min.css",
            "uPlot.LICENSE",
            "uPlot.VERSION",
            "topojson-client.min.js",
            "topojson-client.LICENSE",
            "topojson-client.VERSION",
            "us-atlas-counties-10m.json",
            "us-atlas.LICENSE",
            "us-atlas.VERSION",
        ]
    )
    with tarfile.open(GENUINE_CACHE / "us-atlas-3.0.1.tgz") as tar:
        counties = tar.extractfile("package/counties-10m.json").read()
    assert (result.vendor / "us-atlas-counties-10m.json").read_bytes() == counties
    assert (result.vendor / "us-atlas.VERSION").read_text().strip() == "3.0.1"
