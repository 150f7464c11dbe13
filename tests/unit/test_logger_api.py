"""Unit tests of the logger answer parsers: DataQuery JSON, NewestRecord HTML, lastrecords.html."""

import json

import pytest

from meso360.logger_answers import (
    LoggerAnswerError,
    obs_page_values,
    parse_data_query,
    parse_last_records,
    parse_newest_record,
    unquoted_page_values,
)

OBS_TOKENS = ["2.548", "108.8", "23.1", "82.2", "23.20", "19.92", "81.8", "900.85", "93.1", '"050625"', '"175228"',
              '"A"', "33.19017", "-102.2727", "1021", "0", "85.5", "12.91", "1.0E-3"]  # fmt: skip
TYPES = ["xsd:float"] * 9 + ["xsd:string"] * 3 + ["xsd:float"] * 7


def answer(values_list, first_no=100, more=None, signature=4242, types=TYPES):
    fields = ",".join(json.dumps({"name": f"F{i}", "type": t}) for i, t in enumerate(types))
    data = ",".join(
        f'{{"time":"2025-06-05T17:52:{28 + i:02d}","no":{first_no + i},"vals":[{",".join(v)}]}}'
        for i, v in enumerate(values_list)
    )
    text = f'{{"head":{{"signature":{signature},"fields":[{fields}]}},"data":[{data}]'
    return text + (f',"more":{"true" if more else "false"}' if more is not None else "") + "}"


def test_numbers_are_kept_byte_for_byte_and_strings_unquoted():
    page = parse_data_query(answer([OBS_TOKENS], more=True), 19)
    record = page.records[0]
    assert record.problem is None
    assert (record.no, record.time, page.signature, page.more) == (100, "2025-06-05T17:52:28", "4242", True)
    assert record.values[4] == "23.20" and record.values[18] == "1.0E-3" and record.values[9] == "050625"


def test_nan_numbers_become_lowercase_nan_and_more_defaults_to_false():
    tokens = list(OBS_TOKENS)
    tokens[0], tokens[12] = '"NAN"', "NaN"
    page = parse_data_query(answer([tokens]), 19)
    assert page.records[0].values[0] == "nan" and page.records[0].values[12] == "nan"
    assert page.more is False


def test_text_where_a_number_belongs_marks_the_record_bad():
    tokens = list(OBS_TOKENS)
    tokens[0] = '"1.2.3#ERR"'
    good, bad = parse_data_query(answer([OBS_TOKENS, tokens]), 19).records
    assert good.problem is None
    assert bad.no == 101 and "1.2.3#ERR" in bad.problem


def test_a_record_with_a_value_missing_is_bad():
    record = parse_data_query(answer([OBS_TOKENS[:-1]]), 19).records[0]
    assert "18 values, expected 19" in record.problem


def test_a_record_number_that_is_not_whole_is_bad():
    text = answer([OBS_TOKENS]).replace('"no":100', '"no":"x"')
    assert "not a whole number" in parse_data_query(text, 19).records[0].problem


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"head":{"signature":1,"fields":[', "not JSON"),
        ("[]", "no head"),
        (answer([OBS_TOKENS], types=TYPES[:18]), "18 fields, expected 19"),
        (answer([OBS_TOKENS]).replace('"data":[', '"data":{"x":[').replace("]}", "]}}", 1), "not JSON|not a list"),
    ],
)
def test_unusable_answers_raise(text, message):
    with pytest.raises(LoggerAnswerError, match=message):
        parse_data_query(text, 19)


def newest_html(cells, number="123456"):
    rows = "".join(f"<tr><th>F{i}</th><td>{cell}</td></tr>" for i, cell in enumerate(cells))
    return (
        f"<HTML><BODY><h1>Obs</h1><p><b>Current Record: </b>{number}</p>"
        f"<p><b>Record Date: </b>2025-06-05 17:52:28.0</p><table>{rows}</table></BODY></HTML>"
    )


def test_newest_record_page_gives_number_date_and_19_values():
    record = parse_newest_record(newest_html(OBS_TOKENS[:18] + ["28.16"]), 19, obs_page_values)
    assert record.no == 123456 and record.time == "2025-06-05T17:52:28.0"
    assert record.values[9:12] == ["050625", "175228", "A"] and record.values[18] == "28.16"


def test_newest_record_with_an_empty_cell_is_rejected_not_shifted():
    cells = OBS_TOKENS[:18] + ["28.16"]
    cells[3] = ""
    with pytest.raises(LoggerAnswerError, match="value 4"):
        parse_newest_record(newest_html(cells), 19, obs_page_values)


def test_newest_record_without_number_or_with_18_values_is_rejected():
    with pytest.raises(LoggerAnswerError, match="Current Record"):
        parse_newest_record(newest_html(OBS_TOKENS, number="abc"), 19, obs_page_values)
    with pytest.raises(LoggerAnswerError, match="18 values"):
        parse_newest_record(newest_html(OBS_TOKENS[:18]), 19, obs_page_values)


def test_a_support_newest_record_page_keeps_its_values_unchecked_and_unquoted():
    cells = ["2.5", "180", "9", '"$GPRMC,175228.00,A"', '"$GPGGA,175228.00"', "-5", "0", "1.0", "x"]
    record = parse_newest_record(newest_html(cells), 9, unquoted_page_values)
    assert record.values == ["2.5", "180", "9", "$GPRMC,175228.00,A", "$GPGGA,175228.00", "-5", "0", "1.0", "x"]


def test_lastrecords_skips_tags_sorts_and_marks_bad_lines():
    line = ",".join(OBS_TOKENS)
    short = ",".join(OBS_TOKENS[:18])
    text = f"<!DOCTYPE html>\n<html><body>\n12,{line}\n<pre>13,{line}\n11,{line}\n14,{short}\n</body></html>\n"
    records = parse_last_records(text)
    assert [r.no for r in records] == [11, 12, 14]
    assert records[0].values[9] == "050625" and records[0].problem is None
    assert records[2].problem and "18 values" in records[2].problem
