"""For scripts/e2e_fleet.sh, run on the host: compare a vehicle's files with the base's copy of them.

The container roots are directories on the host, so both sides are read from there, never through the network.
The vehicle's files grow every second while they are read: the base copy must equal the vehicle's file cut to
the copy's length (byte-identical prefix), and must hold at least what the vehicle had at an earlier moment.

    sizes VEHICLE_ROOT                          print {"data/F": size, ...} of the vehicle's files (JSON)
    compare VEHICLE_ROOT BASE_DIR [--at-least SIZES_JSON]
                                                every file of the vehicle is at base, equal prefix, not shorter
                                                than SIZES_JSON says (a `sizes` output taken earlier)
    seconds BASE_DIR [--cover FROM TO]          every GPS second of the base copy's rows once (no duplicate, no
                                                hole), and every second from FROM to TO (epoch) among them
    identical VEHICLE_ROOT BASE_DIR             the base holds exactly the vehicle's files of data/ and support/,
                                                the QC sidecars (data/YYYYMMDD_qc.txt) included, byte for byte
                                                (for files that no longer change: the vehicle's ingest stopped)

Each prints one JSON line and exits 0 when all holds, 1 otherwise.
"""

import argparse
import calendar
import hashlib
import json
import sys
import time
from pathlib import Path

VEHICLE_DIR = "var/lib/meso360"  # in the vehicle's root: data/ and support/ (the rrsync -ro root)
KINDS = ("data", "support")
HEADER_PREFIX = "sfc_wspd,"  # the observation file's header line
GPS_DATE, GPS_TIME = 9, 10  # columns ddmmyy, hhmmss of an observation row


def vehicle_sizes(vehicle_root):
    root = Path(vehicle_root) / VEHICLE_DIR
    # The QC sidecars (data/YYYYMMDD_qc.txt) are recomputable flags, not observations: only the daily files count.
    paths = [
        (kind, path)
        for kind in KINDS
        for path in sorted((root / kind).glob("*.txt"))
        if not path.name.endswith("_qc.txt")
    ]
    return {f"{kind}/{path.name}": path.stat().st_size for kind, path in paths}


def prefix_digest(path, length):
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        left = length
        while left > 0:
            chunk = stream.read(min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest(), length - left


def compare(vehicle_root, base_dir, at_least):
    vehicle, base = Path(vehicle_root) / VEHICLE_DIR, Path(base_dir)
    problems, files = [], {}
    names = vehicle_sizes(vehicle_root)
    if not names:
        problems.append("the vehicle has no file yet")
    for name in names:
        copy = base / name
        if not copy.exists():
            problems.append(f"{name}: not at base")
            continue
        copy_size = copy.stat().st_size
        want, read = prefix_digest(vehicle / name, copy_size)
        have, _ = prefix_digest(copy, copy_size)
        files[name] = {"base": copy_size, "vehicle_now": (vehicle / name).stat().st_size}
        if read < copy_size:
            problems.append(f"{name}: base copy ({copy_size} B) longer than the vehicle's file ({read} B)")
        elif want != have:
            problems.append(f"{name}: base copy differs from the vehicle's first {copy_size} bytes")
        if copy_size < at_least.get(name, 0):
            problems.append(f"{name}: base copy {copy_size} B, the vehicle had {at_least[name]} B before")
    return {"ok": not problems, "files": files, "problems": problems}


def identical(vehicle_root, base_dir):
    vehicle, base = Path(vehicle_root) / VEHICLE_DIR, Path(base_dir)
    names = {kind: sorted(path.name for path in (vehicle / kind).glob("*.txt")) for kind in KINDS}
    copies = {kind: sorted(path.name for path in (base / kind).glob("*.txt")) for kind in KINDS}
    problems = [
        f"{kind}/: the vehicle has {names[kind]}, base {copies[kind]}" for kind in KINDS if names[kind] != copies[kind]
    ]
    sidecars = [name for name in names["data"] if name.endswith("_qc.txt")]
    if not sidecars:
        problems.append("the vehicle has no QC sidecar (data/YYYYMMDD_qc.txt)")
    for kind in KINDS:
        for name in set(names[kind]) & set(copies[kind]):
            if (vehicle / kind / name).read_bytes() != (base / kind / name).read_bytes():
                problems.append(f"{kind}/{name}: base copy differs from the vehicle's")
    files = {f"{kind}/{name}": (vehicle / kind / name).stat().st_size for kind in KINDS for name in names[kind]}
    return {"ok": not problems, "files": files, "problems": problems}


def row_second(fields):
    day, clock = fields[GPS_DATE], fields[GPS_TIME].zfill(6)
    stamp = time.strptime(day.zfill(6) + clock, "%d%m%y%H%M%S")
    return calendar.timegm(stamp)


def seconds(base_dir, cover):
    rows, unreadable, seen, duplicates = 0, 0, set(), 0
    for path in sorted((Path(base_dir) / "data").glob("????????.txt")):
        for line in path.read_text().splitlines():
            if not line or line.startswith(HEADER_PREFIX):
                continue
            rows += 1
            try:
                second = row_second(line.split(","))
            except (IndexError, ValueError):
                unreadable += 1
                continue
            duplicates += second in seen
            seen.add(second)
    problems = []
    if not seen:
        return {"ok": False, "problems": ["no row with a GPS time at base"]}
    first, last = min(seen), max(seen)
    holes = (last - first + 1) - len(seen)
    cover_from, cover_to = cover or (first, first - 1)
    missing = [second for second in range(cover_from, cover_to + 1) if second not in seen]
    if duplicates:
        problems.append(f"{duplicates} GPS seconds twice")
    if holes:
        problems.append(f"{holes} GPS seconds missing between the first and the last row")
    if unreadable:
        problems.append(f"{unreadable} rows without a GPS time")
    if missing:
        problems.append(f"{len(missing)} seconds of {cover_from}..{cover_to} not at base (first {missing[0]})")
    summary = {"rows": rows, "first": first, "last": last, "duplicates": duplicates, "holes": holes}
    return {"ok": not problems, **summary, "problems": problems}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sizes_parser = commands.add_parser("sizes")
    sizes_parser.add_argument("vehicle_root")
    compare_parser = commands.add_parser("compare")
    compare_parser.add_argument("vehicle_root")
    compare_parser.add_argument("base_dir")
    compare_parser.add_argument("--at-least", default="{}", help="JSON {name: size} of an earlier `sizes`")
    seconds_parser = commands.add_parser("seconds")
    seconds_parser.add_argument("base_dir")
    seconds_parser.add_argument("--cover", nargs=2, type=int, metavar=("FROM", "TO"))
    identical_parser = commands.add_parser("identical")
    identical_parser.add_argument("vehicle_root")
    identical_parser.add_argument("base_dir")
    args = parser.parse_args(argv)
    if args.command == "sizes":
        print(json.dumps(vehicle_sizes(args.vehicle_root)))
        return 0
    if args.command == "compare":
        result = compare(args.vehicle_root, args.base_dir, json.loads(args.at_least))
    elif args.command == "identical":
        result = identical(args.vehicle_root, args.base_dir)
    else:
        result = seconds(args.base_dir, args.cover)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
