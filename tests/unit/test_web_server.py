"""The web daemon's HTTP server set-up (waitress with meso360's limits), on loopback."""

import socket
import threading

import pytest
import requests

from meso360.web.server import create_server


def hello(_environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def serving(host):
    server = create_server(hello, host, 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server


def stop(server):
    server.close()
    server.task_dispatcher.shutdown(timeout=5)


def test_the_server_answers_on_the_address_it_was_given():
    server = serving("127.0.0.1")
    try:
        assert server.effective_host == "127.0.0.1" and int(server.effective_port) > 0
        assert requests.get(f"http://127.0.0.1:{server.effective_port}/", timeout=10).text == "hello"
    finally:
        stop(server)


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 in this Python")
def test_listening_on_all_ipv6_addresses_serves_ipv4_clients_too():
    try:
        server = serving("::")
    except OSError as error:
        pytest.skip(f"no IPv6 on this machine: {error}")
    try:
        assert requests.get(f"http://127.0.0.1:{server.effective_port}/", timeout=10).text == "hello"
    finally:
        stop(server)


def test_an_address_in_use_raises_oserror_and_starts_no_worker_threads():
    first = serving("127.0.0.1")
    try:
        before = threading.active_count()
        with pytest.raises(OSError):
            create_server(hello, "127.0.0.1", first.effective_port)
        assert threading.active_count() == before
    finally:
        stop(first)
