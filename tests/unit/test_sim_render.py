"""Simulator internals without HTTP: replayed values, NMEA sentences, JSON/HTML rendering, query selection."""

import calendar
import datetime as dt
import json
import re
import threading

import pytest

from meso360.sim import query, render
from meso360.sim.replay import (
    NAN,
    OBS_FIELDS,
    SUPPORT_FIELDS,
    Record,
    load_rows,
    nmea_sentences,
    obs_values,
    support_values,
)
from meso360.sim.table import FaultError, Logger, TableOptions

START = calendar.timegm(dt.datetime(2025, 6, 5, 17, 52, 28, tzinfo=dt.UTC).timetuple())


@pytest.fixture(scope="module")
def rows():
    return load_rows()


def nmea_checksum_ok(sentence):
    body, checksum = sentence[1:].split("*")
    value = 0
    for char in body:
        value ^= ord(char)
    return f"{value:02X}" == checksum


def test_packaged_data_is_the_real_observation_file(rows):
    assert len(rows) == 21883
    assert rows[0][:3] == ("2.548", "108.8", "23.1")
    assert all(len(row) == 17 for row in rows)


def test_obs_record_has_19_values_with_status_and_battery_inserted(rows):
    values = obs_values(Record(7, START, 0, START), rows)
    assert len(values) == len(OBS_FIELDS) == 19
    assert values[9:12] == ["050625", "175228", "A"]
    assert values[12] == rows[0][11] and values[18] == rows[0][16]
    assert re.fullmatch(r"1\d\.\d\d", values[17])


def test_the_dataquery_head_declares_each_field_with_its_type_and_units():
    obs = render.head("Obs", 1234, OBS_FIELDS, "MM1")["fields"]
    assert [field["name"] for field in obs][:3] == ["WS_ms", "WindDir", "T_slow"] and obs[-1]["name"] == "PanelT"
    first = {"name": "WS_ms", "type": "xsd:float", "units": "meters/second", "process": "Smp", "settable": False}
    assert obs[0] == first
    assert (obs[2]["units"], obs[9]["type"], obs[9]["units"]) == ("Deg C", "xsd:string", "DDMMYY")
    assert (obs[11]["name"], obs[11]["type"], obs[11]["units"]) == ("GPSStatus", "xsd:string", "")
    support = render.head("Support", 1, SUPPORT_FIELDS, "MM1")["fields"]
    types_and_units = {field["name"]: (field["type"], field["units"]) for field in support}
    assert types_and_units["RMC"] == types_and_units["GGA"] == ("xsd:string", "")
    assert types_and_units["LOCAL_UTC_OFFSET"] == ("xsd:float", "hours") and support[-1]["name"] == "Y"


def test_no_fix_record_has_nan_position_and_status_v(rows):
    values = obs_values(Record(7, START, 0, None), rows)
    assert values[9:12] == ["nan", "nan", "V"]
    assert values[12:17] == [NAN] * 5


def test_support_record_has_9_values_and_nmea_with_valid_checksums(rows):
    values = support_values(Record(7, START, 0, START), rows)
    assert len(values) == len(SUPPORT_FIELDS) == 9
    rmc, gga = values[3], values[4]
    assert rmc.startswith("$GPRMC,175228.00,A,3311.41,N,10216.36,W,") and ",050625," in rmc
    assert gga.startswith("$GPGGA,175228.00,3311.41,N,10216.36,W,1,")
    assert nmea_checksum_ok(rmc) and nmea_checksum_ok(gga)
    # 12 RMC and 15 GGA comma fields, as the legacy support file splits them
    assert len(rmc.split(",")) == 13 and len(gga.split(",")) == 15


def test_nmea_without_fix_is_void_but_well_formed(rows):
    rmc, gga = nmea_sentences(Record(7, START, 0, None), rows)
    assert rmc.split(",")[2] == "V" and gga.split(",")[6] == "0"
    assert nmea_checksum_ok(rmc) and nmea_checksum_ok(gga)


def test_known_nmea_checksum():
    # A textbook sentence: $GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47
    from meso360.sim.replay import _nmea

    assert _nmea("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,").endswith("*47")


def test_json_keeps_number_text_and_quotes_nan_and_strings(rows):
    record = Record(3, START, 0, START)
    selected = render.select_fields("Obs", "")
    text = render.data_query_json("Obs", 1234, [record], rows, selected, more=False, station_name="MM1")
    assert '"vals":[2.548,108.8,' in text
    answer = json.loads(text)
    assert answer["more"] is False and answer["head"]["signature"] == 1234
    assert answer["data"][0] == {"time": "2025-06-05T17:52:28", "no": 3, "vals": answer["data"][0]["vals"]}
    assert render.json_value(NAN, "xsd:float") == '"NAN"'
    assert render.json_value("050625", "xsd:string") == '"050625"'


def test_more_can_be_left_out_of_complete_answers(rows):
    selected = render.select_fields("Obs", "")
    text = render.data_query_json("Obs", 1, [], rows, selected, more=False, station_name="x", omit_more=True)
    assert "more" not in json.loads(text)
    text = render.data_query_json("Obs", 1, [], rows, selected, more=True, station_name="x", omit_more=True)
    assert json.loads(text)["more"] is True


def test_field_selection_from_the_uri():
    assert [f.name for _, f in render.select_fields("Obs", "press_hpa")] == ["Press_hPa"]
    assert render.select_fields("Obs", "nothing") is None
    assert render.table_name("obs") == "Obs" and render.table_name("Public") is None


def make_records(count, first_no=0):
    return [Record(first_no + k, START + k, k, START + k) for k in range(count)]


def test_since_record_is_inclusive_and_clamps_to_the_oldest():
    records = make_records(10, first_no=100)
    assert [r.no for r in query.select(records, "since-record", "105", None, START)] == [105, 106, 107, 108, 109]
    assert query.select(records, "since-record", "3", None, START)[0].no == 100
    assert query.select(records, "since-record", "500", None, START) == []


def test_date_range_is_half_open_and_backfill_counts_from_the_clock():
    records = make_records(60)
    start = render.logger_time(START + 10)
    end = render.logger_time(START + 20)
    assert [r.seconds - START for r in query.select(records, "date-range", start, end, 0)] == list(range(10, 20))
    assert len(query.select(records, "backfill", "10", None, START + 59)) == 11


def test_unknown_mode_and_bad_parameters_are_query_errors():
    with pytest.raises(query.QueryError):
        query.select([], "everything", None, None, 0)
    with pytest.raises(query.QueryError):
        query.select([], "since-record", "abc", None, 0)


def test_paging_reports_more():
    records = make_records(7)
    assert query.page(records, 5) == (records[:5], True)
    assert query.page(records, 7) == (records, False)


def test_newest_record_page_and_lastrecords_follow_the_legacy_shape(rows):
    record = Record(123456, START, 0, START)
    page = render.newest_record_html("Obs", record, rows)
    assert "<b>Current Record: </b>123456<" in page
    assert "<b>Record Date: </b>2025-06-05 17:52:28.0<" in page
    assert '<tr><th>GPSDate</th><td>"050625"</td></tr>' in page
    assert "<tr><th>GPSStatus</th><td>A</td></tr>" in page
    lines = [line for line in render.last_records_html(make_records(3), rows).splitlines() if line[:1].isdigit()]
    assert len(lines) == 3 and all(len(line.split(",")) == 20 for line in lines)


def logger(rows, **options):
    return Logger(rows, TableOptions(start_seconds=START, **options))


def test_prefill_ends_at_the_start_time_and_the_ring_drops_the_oldest(rows):
    state = logger(rows, prefill=30, table_size=10, first_record=5)
    signature, records = state.snapshot()
    assert [r.no for r in records] == list(range(25, 35))
    assert records[-1].seconds == START
    assert len(state.history_records(0, 100)) == 30
    assert state.produce().seconds == START + 1


def test_frozen_gps_and_no_fix_faults_shape_the_next_records(rows):
    state = logger(rows, prefill=1)
    state.add_fault({"kind": "frozen_gps", "count": 2})
    frozen = [state.produce() for _ in range(3)]
    assert [r.gps_seconds for r in frozen] == [START, START, START + 3]
    state.add_fault({"kind": "no_fix", "count": 1})
    assert state.produce().gps_seconds is None


def test_recompile_empties_the_table_and_restarts_at_zero(rows):
    state = logger(rows, prefill=5, first_record=50)
    old = state.signature
    state.add_fault({"kind": "recompile"})
    assert state.signature != old and state.snapshot()[1] == []
    assert state.produce().no == 0


def test_request_faults_are_consumed_count_times(rows):
    state = logger(rows, prefill=1)
    state.add_fault({"kind": "http_error", "status": 503, "count": 2})
    assert [("http_error" in state.begin_request()) for _ in range(3)] == [True, True, False]
    assert state.state()["requests"] == 3


@pytest.mark.parametrize(
    "fault",
    [{"kind": "bogus"}, {"kind": "http_error", "status": 200}, {"kind": "malformed", "variant": "x"}, {"kind": "slow"}],
)
def test_invalid_faults_are_refused(rows, fault):
    with pytest.raises(FaultError):
        logger(rows).add_fault(fault)


def test_clock_thread_produces_at_the_rate_until_stopped(rows):
    state = logger(rows, rate=200)
    stop = threading.Event()
    thread = threading.Thread(target=state.run_clock, args=(stop,))
    thread.start()
    try:
        assert state.wait_for_record(20, timeout_seconds=20)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    _, records = state.snapshot()
    assert [r.seconds - START for r in records] == list(range(len(records)))
