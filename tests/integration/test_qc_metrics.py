"""Today's QC flags in the real meso360-web's /metrics (checked by promtool) and /api/status, from the sidecar."""

import datetime as dt

import pytest
import requests
from ingest_helpers import wait_until
from test_metrics import scrape
from test_web_api import DAY, make_rows, write_day
from web_helpers import start_web

from meso360 import config
from meso360.qc.sidecar import QcStream

QC = config.parse("").qc


@pytest.fixture
def web(tmp_path):
    (tmp_path / "data").mkdir()
    started = start_web(tmp_path, "")
    yield started
    started.stop()


def test_metrics_and_status_count_todays_qc_flags_as_the_sidecar_grows(tmp_path, web):
    path = write_day(tmp_path / "data", DAY, make_rows(DAY, 100))
    stream = QcStream(path, QC)
    stream.update()
    _text, samples = wait_until(
        lambda: (scraped := scrape(web))[1].get("meso360_qc_rows_today") == 100 and scraped, message="100 rows"
    )
    assert samples['meso360_qc_flags_today{check="range",variable="t_fast",level="bad"}'] == 0
    # a t_fast of 70 degC (beyond the sensor's range) and a dew point 3 degC above t_fast, 2 s later
    write_day(tmp_path / "data", DAY, make_rows(DAY + dt.timedelta(seconds=100), 1, c4="70"))
    write_day(tmp_path / "data", DAY, make_rows(DAY + dt.timedelta(seconds=101), 1, c4="20.0", c5="23.0"))
    stream.update()
    _text, samples = wait_until(
        lambda: (scraped := scrape(web))[1].get("meso360_qc_rows_today") == 102 and scraped, message="102 rows"
    )
    assert samples['meso360_qc_flags_today{check="range",variable="t_fast",level="bad"}'] == 1
    assert samples['meso360_qc_flags_today{check="consistency",variable="dewpoint",level="bad"}'] == 1
    assert samples['meso360_qc_flagged_rows_today{level="bad"}'] >= 2
    status = requests.get(web.url + "/api/status", timeout=10).json()
    assert status["qc"]["rows"] == 102 and status["qc"]["bad"] == samples['meso360_qc_flagged_rows_today{level="bad"}']


def test_without_a_sidecar_status_says_null_and_metrics_have_no_qc_sample(tmp_path, web):
    write_day(tmp_path / "data", DAY, make_rows(DAY, 10))
    _text, samples = wait_until(
        lambda: (scraped := scrape(web))[1].get("meso360_today_file_rows") == 10 and scraped, message="10 rows"
    )
    assert "meso360_qc_rows_today" not in samples
    assert requests.get(web.url + "/api/status", timeout=10).json()["qc"] is None
