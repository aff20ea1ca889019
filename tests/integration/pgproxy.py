"""A TCP proxy in front of the test cluster that can lose a COMMIT's answer.

The daemon connects through it (conninfo()); it forwards every byte, and
reads the server's side message by message (type byte, length). Armed
(arm()), it ends the first connection whose server sends a COMMIT's
CommandComplete, without passing that message on: the server has
committed, the client never hears so. With refuse_s, connections made
during that many seconds afterwards are closed at once (the server cannot
be asked how the transaction ended).

Frozen (freeze()), it passes nothing on in either direction, on the
connections it has and on new ones, until thaw(): a server that stops
answering without closing (stopped with SIGSTOP, or behind a network that
holds its packets). hold_on(pattern) freezes so only the first connection
whose client sends those bytes, from that message on; hold_on(pattern,
after=TAG), from the server's CommandComplete TAG that answers it (passed
on; what follows it, ReadyForQuery, is held).
"""
import os
import socket
import struct
import threading
import time


def end(*socks):
    """Shuts both directions of each socket and closes it."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def pump(src, dst, gate=None):
    """Copies src to dst byte for byte until either side ends, then ends
    both; gate(data), if given, is called with what was read before it is
    passed on (and may hold it)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if gate is not None:
                gate(data)
            dst.sendall(data)
    except OSError:
        pass
    end(src, dst)


def _conninfo_fields(url):
    """The key=value pairs of a libpq conninfo string (values without
    spaces or quotes, as the test harness's are)."""
    fields = {}
    for part in url.split():
        key, _, value = part.partition("=")
        fields[key] = value
    return fields


class PgProxy:
    def __init__(self, database_url=None):
        self.fields = _conninfo_fields(database_url or os.environ["DATABASE_URL"])
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.armed = False
        self.refuse_s = 0.0
        self.refuse_until = 0.0
        self.before_drop = None
        self.dropped = threading.Event()
        self.closing = False
        self.flowing = threading.Event()
        self.flowing.set()
        self.hold_pattern = None
        self.hold_after = None  # (hold_on's after: the connection's event, the tag)
        self.held = threading.Event()  # set once a connection is held (hold_on)
        threading.Thread(target=self._accept, daemon=True).start()

    def conninfo(self):
        """The daemon's DATABASE_URL: this proxy, with no SSL or GSS
        negotiation (whose one-byte answers are not messages)."""
        keep = {k: v for k, v in self.fields.items() if k not in ("host", "hostaddr", "port")}
        keep.update({"host": "127.0.0.1", "port": str(self.port), "sslmode": "disable", "gssencmode": "disable"})
        return " ".join(f"{k}={v}" for k, v in keep.items())

    def arm(self, refuse_s=0.0, before_drop=None):
        """before_drop: called before the connection is ended (the COMMIT
        has happened, its answer not passed on)."""
        with self.lock:
            self.armed = True
            self.refuse_s = refuse_s
            self.before_drop = before_drop
            self.dropped.clear()

    def freeze(self):
        self.flowing.clear()

    def hold_on(self, pattern, after=None):
        with self.lock:
            self.hold_pattern = pattern
            self.hold_after = (None, after) if after else None
            self.held.clear()

    def thaw(self):
        with self.lock:
            self.hold_pattern = self.hold_after = None
        self.flowing.set()

    def close(self):
        self.closing = True
        self.hold_pattern = None
        self.flowing.set()
        self.listener.close()

    def _server(self):
        host = self.fields.get("host", "")
        port = int(self.fields.get("port", "5432"))
        if host.startswith("/"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(os.path.join(host, f".s.PGSQL.{port}"))
        else:
            s = socket.create_connection((host or "127.0.0.1", port))
        return s

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self.refuse_until:
                client.close()
                continue
            try:
                server = self._server()
            except OSError:
                client.close()
                continue
            own = threading.Event()  # this connection's: cleared when hold_on holds it
            own.set()
            threading.Thread(target=pump, args=(client, server, lambda data, own=own: self._up(own, data)),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(client, server, own), daemon=True).start()

    def _up(self, own, data):
        """Client to server: holds data while frozen, or from the message
        that holds this connection on."""
        with self.lock:
            if self.hold_pattern is not None and self.hold_pattern in data and not self.held.is_set():
                if self.hold_after is None:
                    own.clear()
                    self.held.set()
                elif self.hold_after[0] is None:
                    self.hold_after = (own, self.hold_after[1])
        self._wait(own)

    def _wait(self, own):
        while not (self.flowing.is_set() and (own.is_set() or self.hold_pattern is None)):
            time.sleep(0.01)

    def _down(self, client, server, own):
        """Server to client, a message at a time."""
        buf = b""
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                self._wait(own)
                buf += data
                out = b""
                while len(buf) >= 5:
                    (length,) = struct.unpack("!I", buf[1:5])
                    if len(buf) < 1 + length:
                        break
                    msg, buf = buf[:1 + length], buf[1 + length:]
                    if msg[:1] == b"C" and msg[5:] == b"COMMIT\x00":
                        with self.lock:
                            drop = self.armed
                            self.armed = False
                            if drop:
                                self.refuse_until = time.monotonic() + self.refuse_s
                        if drop:
                            if self.before_drop is not None:
                                self.before_drop()
                            if out:
                                client.sendall(out)
                            end(client, server)
                            self.dropped.set()
                            return
                    out += msg
                    hold = self.hold_after
                    if hold is not None and hold[0] is own and msg[:1] == b"C" and msg[5:] == hold[1] + b"\x00":
                        client.sendall(out)
                        out = b""
                        with self.lock:
                            own.clear()
                            self.held.set()
                        self._wait(own)
                if out:
                    client.sendall(out)
        except OSError:
            pass
        end(client, server)
