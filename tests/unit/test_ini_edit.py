"""Setting one key in a config text keeps every other line (meso360ctl config import-legacy)."""

from meso360.ctl.ini_edit import active_value, set_key


def test_an_active_line_is_replaced_in_its_section_only():
    text = "[ingest]\nlisten = not-this-one\n[web]\n# the port\nlisten = 0.0.0.0:9000  # crew\nhistory_hours = 4\n"
    assert set_key(text, "web", "listen", "0.0.0.0:8080") == (
        "[ingest]\nlisten = not-this-one\n[web]\n# the port\nlisten = 0.0.0.0:8080\nhistory_hours = 4\n"
    )


def test_a_new_key_goes_after_its_commented_default_as_in_the_packaged_file():
    text = "[web]\n# Address and port.\n#listen = 0.0.0.0:8080\n# Hours.\n#history_hours = 2\n"
    assert set_key(text, "web", "listen", "[::]:8080") == (
        "[web]\n# Address and port.\n#listen = 0.0.0.0:8080\nlisten = [::]:8080\n# Hours.\n#history_hours = 2\n"
    )


def test_a_new_key_goes_under_its_header_or_into_a_new_section_at_the_end():
    assert set_key("[web]\nhistory_hours = 4\n", "web", "mdns_name", "MM2") == (
        "[web]\nmdns_name = MM2\nhistory_hours = 4\n"
    )
    assert set_key("[web]\nhistory_hours = 4", "tunnel", "remote_port", "2202") == (
        "[web]\nhistory_hours = 4\n\n[tunnel]\nremote_port = 2202\n"
    )
    assert set_key("", "meso360", "vehicle", "MM2") == "[meso360]\nvehicle = MM2\n"


def test_the_active_value_is_read_without_its_inline_comment():
    text = "[web]\n#mdns_name = old\nlisten = 0.0.0.0:9000  # crew\n"
    assert active_value(text, "web", "listen") == "0.0.0.0:9000"
    assert active_value(text, "web", "mdns_name") is None
    assert active_value(text, "tunnel", "host") is None
