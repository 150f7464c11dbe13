"""Unit tests of the web daemon's pieces: tally vs. meso360.gaps, live window ids, downsampling, passwords."""

import array
import datetime as dt
import gzip
import json
import math
import random
import zlib

import pytest

from meso360 import config as config_module
from meso360 import gaps
from meso360.ctl.passwd_cmd import set_password_hash
from meso360.datafile import RowReader, number_or_none
from meso360.web import auth, deflate_parts, history
from meso360.web.daysample import ParsedDay, downsample
from meso360.web.points import POINT_KEYS, SERIES_KEYS, series_values
from meso360.web.tally import DayTally
from meso360.web.window import LiveWindow

TEST_FILE = "test_data/test.txt"


def test_day_tally_row_by_row_equals_the_gap_analysis_of_the_whole_file(tmp_path):
    path = tmp_path / "20250605.txt"
    path.write_text(open(TEST_FILE).read())
    tally = DayTally(path)
    rows = RowReader()
    for line in open(path):
        parsed = rows.parse(line)
        if parsed is not None:
            tally.add(parsed[0])
    report = gaps.analyze_file(path)
    assert tally.report.rows == report.rows == 21883
    assert len(tally.report.gaps) == len(report.gaps) == 178
    assert tally.report.missing_seconds == report.missing_seconds == 249
    assert tally.report.duplicates == report.duplicates
    assert tally.report.distinct_seconds == report.distinct_seconds
    assert tally.summary()["completeness_pct"] == round(gaps.completeness(report).fraction * 100, 2)


def test_gps_time_parsing_rejects_missing_or_impossible_times():
    rows = RowReader()
    assert rows.gps_seconds_of("050625", "175228") == int(
        dt.datetime(2025, 6, 5, 17, 52, 28, tzinfo=dt.UTC).timestamp()
    )
    for date, time in [("nan", "175228"), ("050625", "nan"), ("050625", "176028"), ("320625", "000000"), ("", "")]:
        assert rows.gps_seconds_of(date, time) is None
    cells = ("1.5", "nan", "inf", "", "x")
    assert [number_or_none(text, infinity_is_missing=True) for text in cells] == [1.5, None, None, None, None]
    assert series_values(["inf"] * 17) == [None] * 10  # the web sends finite numbers only


def _window_with(count, history_seconds=100):
    window = LiveWindow("MM1", history_seconds, first_id=1000)
    window.append([(ts, True, [float(ts)] + [None] * 9) for ts in range(count)])
    return window


def test_live_window_trims_by_data_time_and_keeps_ids_contiguous():
    window = _window_with(300)
    _last_id, points = window.snapshot()
    assert [p.ts for p in points] == list(range(199, 300))
    ids = [p.id for p in points]
    assert ids == list(range(ids[0], ids[0] + len(ids))) and ids[-1] == 1300


def test_live_window_replays_after_an_id_and_resets_for_a_foreign_id():
    window = _window_with(300)
    newer, reset = window.after(1295)
    assert [p.id for p in newer] == [1296, 1297, 1298, 1299, 1300] and not reset
    assert window.after(1300) == ([], False)
    everything, reset = window.after(5)  # older than the window: the client missed rows
    assert reset and everything[-1].id == 1300 and len(everything) == len(window)
    assert window.after(999_999)[1] is True  # from a previous server with larger ids


def _straightforward_history(window):
    """The /api/history document encoded in one go from snapshot(): what the block-wise body must equal."""
    last_id, points = window.snapshot()
    documents = [point.as_dict() for point in points]
    columns = {key: [document[key] for document in documents] for key in POINT_KEYS}
    document = {"vehicle": window.vehicle, "last_id": last_id, "qc": [], "points": columns}
    return json.dumps(document, separators=(",", ":"))


def _random_rows(generator, start_ts, count):
    """Rows of 1 Hz data with nulls, negative and integral values, rows without fix and late (backfilled) rows."""
    rows = []
    for offset in range(count):
        values = [generator.choice([None, -3.25, 0.0, 17, 1e-05, generator.uniform(-500, 500)]) for _ in SERIES_KEYS]
        kind = generator.random()
        if kind < 0.05:
            rows.append((start_ts + offset + 0.125, False, values))  # no fix: timed by arrival
        elif kind < 0.07:
            rows.append((start_ts + offset - 5000, True, values))  # backfilled: older than the window
        else:
            rows.append((start_ts + offset, True, values))
    return rows


@pytest.mark.parametrize("block_points", [3, 7, 64, 100, history.BLOCK_POINTS])
def test_history_body_decompresses_to_the_straightforward_json_through_trims_and_appends(monkeypatch, block_points):
    monkeypatch.setattr(history, "BLOCK_POINTS", block_points)
    generator = random.Random(block_points)
    window = LiveWindow('MM"1', 600, first_id=1000)
    assert gzip.decompress(window.history_body()[1]).decode() == _straightforward_history(window)  # empty
    window.append([(ts + 0.5, False, [None] * 10) for ts in range(5)])  # no fix yet: nothing trimmed by time
    assert gzip.decompress(window.history_body()[1]).decode() == _straightforward_history(window)
    ts = 1_750_000_000
    for batch in [1, 2, 3, 50, 400, 1, 1, 700, 64, 5, 1, 2000, 1, 1, 1, 200]:
        window.append(_random_rows(generator, ts, batch))
        ts += batch
        last_id, body = window.history_body()
        assert last_id == window.last_id
        assert gzip.decompress(body).decode() == _straightforward_history(window), batch
    assert len(window.snapshot()[1]) > 500  # the window was full and trimmed on the left
    # A burst of rows without fix, more than max_points: trimmed by count, not by time.
    window.append([(ts + offset / 1000, False, [offset, None] * 5) for offset in range(window.max_points + 100)])
    assert gzip.decompress(window.history_body()[1]).decode() == _straightforward_history(window)
    window.append(_random_rows(generator, ts, 3 * block_points))
    assert gzip.decompress(window.history_body()[1]).decode() == _straightforward_history(window)


def test_history_body_is_recompressed_only_for_a_group_of_the_trimmed_first_and_the_open_last_block(monkeypatch):
    window = _window_with(5000, history_seconds=3600)
    calls = []
    real_deflate = deflate_parts.deflate
    monkeypatch.setattr(
        deflate_parts, "deflate", lambda data, finish=False: calls.append(len(data)) or real_deflate(data, finish)
    )
    window.append([(5000, True, [1.0] * 10)])
    window.history_body()
    assert sum(calls) < 2 * history.GROUP_POINTS * 100  # of about 400 kB of text: a group's points at each end at most


def test_a_run_continues_a_crc_from_any_start_as_crc32_over_its_text():
    generator = random.Random(7)
    texts = [
        "," + ",".join(str(generator.randint(-999, 99999)) for _ in range(generator.randint(1, 300))) for _ in range(5)
    ]
    run = deflate_parts.Run([deflate_parts.Chunk(text) for text in texts])
    data = "".join(texts).encode()
    assert run.length == len(data) and zlib.decompressobj(-15).decompress(run.deflated) == data
    for start in [0, 1, 0xFFFFFFFF, 1 << 31, *(generator.getrandbits(32) for _ in range(50))]:
        assert deflate_parts.multiply(run.power, start) ^ run.crc == zlib.crc32(data, start)


def test_history_bodies_after_appends_reuse_the_runs_of_the_unchanged_blocks_and_equal_a_body_built_anew():
    window = _window_with(3000, history_seconds=2000)
    window.history_body()
    runs = dict(window._runs)
    assert runs and all(len(columns) == len(POINT_KEYS) for columns in runs.values())
    for ts in range(3000, 3000 + history.BLOCK_POINTS):
        window.append([(ts, True, [float(ts)] + [None] * 9)])
        _last_id, body = window.history_body()
        if ts == 3000:
            assert all(window._runs[key] is runs[key] for key in window._runs)  # the same objects, not remade
        if ts % 17:
            continue  # the costly comparisons on every 17th row: trims, appends and finished blocks among them
        assert gzip.decompress(body).decode() == _straightforward_history(window)
        rebuilt = LiveWindow(window.vehicle, window.history_seconds, first_id=window.first_id() - 1)
        rebuilt.append([(point.ts, True, [float(point.ts)] + [None] * 9) for point in window.snapshot()[1]])
        assert gzip.decompress(rebuilt.history_body()[1]) == gzip.decompress(body)
    assert set(window._runs) != set(runs)  # a block finished and one left the window: other runs since


def test_downsampling_keeps_each_series_minimum_and_maximum_in_time_order():
    count = 86400
    stamps = list(range(count))
    values = [math.sin(i / 500) for i in range(count)]
    values[12345], values[54321] = 7.0, -7.0
    values[100] = float("nan")
    columns = downsample(stamps, [True] * count, {"t": values}, 2000)
    assert len(columns["ts"]) <= 2000 and columns["ts"] == sorted(columns["ts"])
    assert max(columns["t"]) == 7.0 and min(columns["t"]) == -7.0
    assert len(columns["t"]) == len(columns["ts"])
    small = downsample([1, 2], [True, False], {"t": [1.0, float("nan")]}, 2000)
    assert small == {"id": [0, 1], "ts": [1, 2], "fix": [True, False], "t": [1.0, None]}


def test_password_hash_is_salted_and_verifies():
    first, second = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert auth.verify_password("correct horse", first)
    assert not auth.verify_password("correct hors", first)
    assert not auth.verify_password("x", "garbage") and not auth.verify_password("x", "")


@pytest.mark.parametrize(
    "text",
    [
        "[meso360]\nvehicle = MM2\n",
        "[web]\nlisten = 0.0.0.0:8080\n# keep me\n",
        "[web]\npassword_hash = old\n[tunnel]\nhost =\n",
        "# comment\n[meso360]\nvehicle = MM2\n[web]\n#password_hash =\nhistory_hours = 3",
    ],
)
def test_passwd_sets_the_hash_and_keeps_every_other_line(text):
    stored = "scrypt$2$1$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA=="
    new = set_password_hash(text, stored)
    assert config_module.parse(new).web.password_hash == stored
    others = [line for line in new.splitlines() if not line.startswith("password_hash =")]
    kept = [line for line in text.splitlines() if not line.startswith("password_hash =")]
    assert others[: len(kept)] == kept
    assert new.count("\npassword_hash =") + new.startswith("password_hash =") == 1


def _careful_reference(path):
    """Cell-by-cell parse of a daily file: the rules the bulk parser must give the same answer as."""
    rows, stamps, series = RowReader(), [], []
    for line in open(path, encoding="utf-8"):
        parsed = rows.parse(line)
        if parsed is not None:
            stamps.append(parsed[0])
            series.append([math.nan if value is None else value for value in series_values(parsed[1])])
    return stamps, series


def test_bulk_day_parser_equals_the_careful_parser_on_garbage_headers_and_missing_fixes(tmp_path):
    lines = open(TEST_FILE).read().splitlines()
    out = lines[:3000]
    broken = [list(line.split(",")) for line in lines[3000:3020]]
    broken[0][4], broken[1][7], broken[2][11], broken[3][5] = "nan", "NAN", "inf", "garbage"
    broken[4][9] = broken[4][10] = "nan"
    broken[5][10], broken[6][12], broken[7][0] = "246060", "", "-1e400"
    out += [",".join(fields) for fields in broken] + [lines[0], "1,2,3", ""] + lines[3020:4000]
    path = tmp_path / "20250605.txt"
    path.write_text("\r\n".join(out) + "\r\n")
    parsed = ParsedDay(path)
    parsed.extend()
    stamps, series = _careful_reference(path)
    assert [None if second < 0 else second for second in parsed.seconds] == stamps
    assert len(stamps) == 3999 and stamps.count(None) == 2  # the nan row and the 24:60:60 row
    for index, key in enumerate(SERIES_KEYS):
        got, want = list(parsed.series[key]), [row[index] for row in series]
        want = list(array.array(parsed.series[key].typecode, want))  # float32 but lat and lon, as stored
        assert [value if value == value else None for value in got] == [v if v == v else None for v in want], key


def test_the_panel_log_follows_the_daemons_the_target_and_the_enable_disable_helper():
    from meso360.web import journal

    assert {"meso360-ingest.service", "meso360-web.service", "meso360.target"} <= set(journal.UNITS)
    assert "meso360-unitfile@disable-ingest.service" in journal.UNITS
    assert not [unit for unit in journal.UNITS if not unit.startswith("meso360")]


def test_the_panel_gets_the_same_unit_health_verdict_as_meso360ctl():
    from meso360.systemd_units import parse_show, unit_health
    from meso360.web.systemd import unit_entry

    shown = parse_show(
        "Id=meso360-ingest.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=enabled\n\n"
        "Id=meso360-web.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n"
        "ActiveEnterTimestamp=@1762300800\nNRestarts=3\n\n"
        "Id=meso360-tunnel.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=enabled\n\n"
        "Id=meso360-sim.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n"
    )
    configured = {"ingest": True, "web": True, "tunnel": False, "sim": True}
    components = [state.unit.removeprefix("meso360-").removesuffix(".service") for state in shown]
    entries = [unit_entry(name, state, configured[name]) for name, state in zip(components, shown, strict=True)]
    for state, entry in zip(shown, entries, strict=True):
        assert (entry["health"], entry["reason"]) == unit_health(state, entry["configured"])
    ingest, web, tunnel, sim = entries
    assert (ingest["health"], ingest["reason"]) == ("unhealthy", "enabled but not running")
    assert web["health"] == "ok" and web["since"] == "2025-11-05T00:00:00Z" and web["restarts"] == 3
    assert (tunnel["health"], tunnel["reason"]) == ("idle", "tunnel not configured (skipped)")
    assert (sim["health"], sim["active"], sim["enabled"]) == ("not-installed", "not-found", None)
    assert unit_entry("web", None, True) | {"name": "-"} == {
        "name": "-", "component": "web", "configured": True, "health": "unknown", "reason": "", "active": "unknown",
        "sub": "unknown", "since": None, "restarts": 0, "status_text": "", "enabled": None,
    }  # fmt: skip
