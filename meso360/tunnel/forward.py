"""Forward each channel the bastion opens to a local address (the sshd, the web daemon), with half-close and a
thread limit; one dispatcher per transport picks the forwarder by the bastion port the channel came in on."""

import logging
import select
import socket
import threading

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 32
_CHUNK_BYTES = 32768


class Forwarder:
    """Handler for paramiko's request_port_forward: one bounded thread per forwarded connection."""

    def __init__(self, local_port, connect_timeout_seconds, max_connections=MAX_CONNECTIONS, local_host="127.0.0.1"):
        self.local_host = local_host
        self.local_port = local_port
        self._connect_timeout = connect_timeout_seconds
        self._slots = threading.BoundedSemaphore(max_connections)
        self._max = max_connections
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self.channels_received = 0
        self._refusing = False
        self.last_local_error = None

    def __call__(self, channel, origin, server):
        """Called by paramiko's transport thread for each forwarded channel: must not block."""
        with self._lock:
            self.channels_received += 1
        if self._closing.is_set() or not self._slots.acquire(blocking=False):
            if not self._refusing:
                log.warning("%d forwarded connections already open: refusing more until one closes", self._max)
                self._refusing = True
            channel.close()
            return
        self._refusing = False
        name = f"forward-{origin[0]}:{origin[1]}"
        threading.Thread(target=self._serve, args=(channel,), name=name, daemon=True).start()

    @property
    def local_address(self):
        """Where connections go, "host:port" ("[::1]:8080" for an IPv6 address)."""
        host = f"[{self.local_host}]" if ":" in self.local_host else self.local_host
        return f"{host}:{self.local_port}"

    def close(self):
        """Ask every forwarding thread to stop; they close their channel and socket within a second."""
        self._closing.set()

    def _serve(self, channel):
        try:
            try:
                sock = socket.create_connection((self.local_host, self.local_port), timeout=self._connect_timeout)
            except OSError as error:
                self.last_local_error = f"cannot connect to {self.local_address}: {error.strerror or error}"
                log.warning("forwarded connection dropped: %s", self.last_local_error)
                channel.close()
                return
            self.last_local_error = None
            try:
                sock.settimeout(None)
                self._pump(channel, sock)
            finally:
                sock.close()
                channel.close()
        finally:
            self._slots.release()

    def _pump(self, channel, sock):
        """Copy bytes both ways until both sides have sent EOF; pass each EOF on as a half-close."""
        open_readers = [channel, sock]
        while open_readers and not self._closing.is_set():
            try:
                readable, _, _ = select.select(open_readers, [], [], 1.0)
            except (OSError, ValueError):
                return
            for source in readable:
                try:
                    data = source.recv(_CHUNK_BYTES)
                    if source is channel:
                        if data:
                            sock.sendall(data)
                        else:
                            open_readers.remove(channel)
                            sock.shutdown(socket.SHUT_WR)
                    elif data:
                        channel.sendall(data)
                    else:
                        open_readers.remove(sock)
                        channel.shutdown_write()
                except OSError as error:
                    log.debug("forwarded connection ended: %s", error)
                    return
            if channel.closed:
                return


class ForwardDispatcher:
    """The one handler paramiko keeps per transport for all its remote forwards (a second request_port_forward
    replaces the first handler): hands each channel to the Forwarder of the bastion port it came in on."""

    def __init__(self):
        self._forwarders = {}

    def add(self, remote_port, forwarder):
        """Send the channels of bastion port `remote_port` to `forwarder` (register before requesting the forward)."""
        self._forwarders[remote_port] = forwarder

    def __call__(self, channel, origin, server):
        forwarder = self._forwarders.get(server[1])
        if forwarder is None:
            log.warning("the bastion forwarded a connection for port %s, which this tunnel never asked for", server[1])
            channel.close()
            return
        forwarder(channel, origin, server)

    def close(self):
        for forwarder in self._forwarders.values():
            forwarder.close()
