"""GET /api/range on the real meso360-web process over loopback, on the real observations written as two daily
files across midnight: the day history's points for a whole day, every row of a range across midnight counted,
new rows seen, hostile input answered 400 with the daemon unharmed, the files left byte-identical."""

import calendar
import hashlib

import pytest
import requests
from web_helpers import start_web

MIDNIGHT = calendar.timegm((2025, 6, 6, 0, 0, 0))
ACROSS = {"from": "2025-06-05T22:00:00Z", "to": "2025-06-06T02:00:00Z"}


@pytest.fixture
def range_web(tmp_path, real_days_across_midnight):
    web = start_web(tmp_path, f"[meso360]\nvehicle = MM2\ndata_dir = {real_days_across_midnight}\n")
    yield web
    web.stop()


def source_seconds(data_dir):
    """The GPS time of every source row, timed here with calendar.timegm (not the daemon's parser)."""
    stamps = []
    for path in sorted(data_dir.glob("????????.txt")):
        for line in path.read_text().splitlines()[1:]:
            day, clock = line.split(",")[9:11]
            fields = (2000 + int(day[4:]), int(day[2:4]), int(day[:2]), int(clock[:2]), int(clock[2:4]), int(clock[4:]))
            stamps.append(calendar.timegm(fields))
    return stamps


def test_a_range_of_one_whole_day_answers_the_points_of_that_day(range_web):
    day = requests.get(range_web.url + "/api/history/20250606?points=2000", timeout=60).json()
    params = {"from": "2025-06-06T00:00:00Z", "to": "2025-06-07T00:00:00Z", "points": "2000"}
    answer = requests.get(range_web.url + "/api/range", params=params, timeout=60)
    assert answer.status_code == 200
    body = answer.json()
    assert body["points"] == day["points"]
    assert (body["total_rows"], body["last_id"], body["vehicle"]) == (day["total_rows"], day["last_id"], "MM2")
    assert body["days"] == ["20250606"] and body["from"] == params["from"] and body["to"] == params["to"]


def test_a_range_across_midnight_counts_every_row_of_both_files_and_is_cached(range_web):
    start, end = calendar.timegm((2025, 6, 5, 22, 0, 0)), calendar.timegm((2025, 6, 6, 2, 0, 0))
    want = sum(start <= stamp < end for stamp in source_seconds(range_web.data_dir))
    answer = requests.get(range_web.url + "/api/range", params=ACROSS, headers={"Accept-Encoding": "gzip"}, timeout=60)
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
    body = answer.json()
    assert body["total_rows"] == want > 10000
    assert body["days"] == ["20250605", "20250606"]
    stamps = body["points"]["ts"]
    assert start <= stamps[0] < MIDNIGHT <= stamps[-1] < end
    assert 1000 < len(stamps) <= 2000 and set(body["points"]) >= {"id", "ts", "fix", "t", "td", "wspd", "lat", "lon"}
    again = requests.get(range_web.url + "/api/range", params=ACROSS, headers={"Accept-Encoding": "gzip"}, timeout=60)
    assert again.content == answer.content
    assert range_web.log().count("range history:") == 1  # read once, then from the cache


def test_a_range_without_files_answers_no_rows(range_web):
    params = {"from": "2030-01-01T00:00:00Z", "to": "2030-01-02T00:00:00Z"}
    body = requests.get(range_web.url + "/api/range", params=params, timeout=60).json()
    assert (body["total_rows"], body["days"], body["points"]["ts"]) == (0, [], [])


def test_a_new_row_in_the_range_is_in_the_next_answer(range_web):
    params = {"from": "2025-06-06T02:00:00Z", "to": "2025-06-06T04:00:00Z"}
    before = requests.get(range_web.url + "/api/range", params=params, timeout=60).json()
    newest = range_web.data_dir / "20250606.txt"
    cells = newest.read_text().splitlines()[-1].split(",")
    cells[10] = "031500"  # after the last real row (02:59:59)
    with open(newest, "a") as file:
        file.write(",".join(cells) + "\n")
    after = requests.get(range_web.url + "/api/range", params=params, timeout=60).json()
    assert after["total_rows"] == before["total_rows"] + 1
    assert after["points"]["ts"][-1] == calendar.timegm((2025, 6, 6, 3, 15, 0))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2025-06-05T22:00:00&to=2025-06-06T02:00:00Z", "from must be a UTC time"),
        ("from=2025-06-05T22:00:00Z&to=2025-06-06T02:00:00%2B00:00", "to must be a UTC time"),
        ("from=2025-06-05&to=2025-06-06", "from must be a UTC time"),
        ("from=..%2F..%2F..%2Fetc%2Fpasswd&to=2025-06-06T02:00:00Z", "from must be a UTC time"),
        ("from=2025-06-05T22:00:00Z%00&to=2025-06-06T02:00:00Z", "from must be a UTC time"),
        ("from=%EF%BC%92025-06-05T22:00:00Z&to=2025-06-06T02:00:00Z", "from must be a UTC time"),
        ("from=2025-06-06T02:00:00Z&to=2025-06-05T22:00:00Z", "from must be before to"),
        ("from=2025-05-01T00:00:00Z&to=2025-06-06T00:00:00Z", "longer than 31 days"),
        ("from=2025-02-29T00:00:00Z&to=2025-03-01T00:00:00Z", "not a valid date"),
        ("to=2025-06-06T02:00:00Z", "give from and to"),
        ("from=2025-06-05T22:00:00Z&to=2025-06-06T02:00:00Z&points=5", "points must be a whole number"),
        ("from=2025-06-05T22:00:00Z&to=2025-06-06T02:00:00Z&points=" + "9" * 4000, "points must be a whole number"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter_and_the_daemon_goes_on(range_web, query, message):
    answer = requests.get(range_web.url + "/api/range?" + query, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["ok"] is False and message in answer.json()["error"]
    assert requests.get(range_web.url + "/healthz", timeout=10).status_code == 200
    assert requests.get(range_web.url + "/api/range", params=ACROSS, timeout=60).status_code == 200
    assert "Traceback" not in range_web.log()


def test_reading_ranges_leaves_the_data_files_byte_identical(range_web):
    paths = sorted(range_web.data_dir.glob("*.txt"))
    before = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}
    for params in (ACROSS, {"from": "2025-06-05T00:00:00Z", "to": "2025-07-01T00:00:00Z", "points": "20000"}):
        answer = requests.get(range_web.url + "/api/range", params=params, timeout=60)
        assert answer.status_code == 200 and answer.json()["total_rows"] > 10000
    assert {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths} == before
