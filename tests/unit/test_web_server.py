"""The web daemon's HTTP server set-up (waitress with meso360's limits), on loopback."""

import http.client
import socket
import threading

import pytest

from meso360.web.server import create_server


def hello(_environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def serving(host):
    server = create_server(hello, host, 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server


def get_text(port):
    """GET / on 127.0.0.1:port; http.client, not requests: a package build sets http_proxy to a dead port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/")
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def stop(server):
    server.close()
    server.task_dispatcher.shutdown(timeout=5)


def test_the_server_answers_on_the_address_it_was_given():
    server = serving("127.0.0.1")
    try:
        assert server.effective_host == "127.0.0.1" and int(server.effective_port) > 0
        assert get_text(server.effective_port) == "hello"
    finally:
        stop(server)


def test_listening_on_all_ipv6_addresses_serves_ipv4_clients_too():
    server = serving("::")  # the machines that build and test meso360 have IPv6 on loopback
    try:
        assert get_text(server.effective_port) == "hello"
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


def test_pending_output_counts_the_answer_a_client_has_not_taken_and_forgets_it_once_the_client_is_gone():
    big = b"x" * (16 * 1024 * 1024)  # more than the kernel's socket buffers hold

    def big_answer(_environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(big)))])
        return [big]

    server = create_server(big_answer, "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        client.connect(("127.0.0.1", int(server.effective_port)))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wait_for(lambda: server.pending_output_bytes() > 4 * 1024 * 1024)
        client.close()
        assert wait_for(lambda: server.pending_output_bytes() == 0)
    finally:
        client.close()
        stop(server)


def wait_for(condition, timeout_s=20.0):
    deadline = threading.Event()
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return True
        deadline.wait(0.05)  # polling the server's state, with a bound
    return False
