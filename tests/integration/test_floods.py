"""Floods from outside, through the real daemon and PostgreSQL: the
connection table held by idle sockets (a per-client limit, silent sockets
shed first, a 503 with Retry-After over any limit, never a reset), with a
legitimate client's success rate asserted."""
import resource
import socket
import sys
import threading
import time
import unittest

from builders import search_body
from harness import PATH, Daemon, envelope, make_user
from test_http import read_reply

ATTACKER = "127.0.0.2"  # loopback answers on all of 127/8: another client address


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= n


def request(user):
    body = envelope(search_body())
    return (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\n"
            f"Authorization: {user.basic()}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


class Holder:
    """Opens n idle sockets from addr and keeps them open: each one the
    daemon closes is opened again until stop()."""

    def __init__(self, port, n, addr=ATTACKER):
        self.port, self.n, self.addr = port, n, addr
        self.socks, self.opened, self.refused, self.stopping = [], 0, 0, False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open_one(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(self.addr, 0))
            s.setblocking(False)
            self.opened += 1
            return s
        except OSError:
            return None

    def run(self):
        self.socks = [self.open_one() for _ in range(self.n)]
        while not self.stopping:
            for i, s in enumerate(self.socks):
                gone = s is None
                if not gone:
                    try:
                        data = s.recv(4096)
                        gone = True
                        if data.startswith(b"HTTP/1.1 503"):
                            self.refused += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        gone = True
                if gone and not self.stopping:
                    if s is not None:
                        s.close()
                    self.socks[i] = self.open_one()
            time.sleep(0.05)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        self.thread.join()
        for s in self.socks:
            if s is not None:
                s.close()


class ConnectionFloodTest(unittest.TestCase):
    HELD = 2000

    def setUp(self):
        if not raise_nofile(self.HELD + 500):
            self.skipTest("cannot open enough descriptors")

    def legitimate(self, d, user, n, seconds):
        ok, failed = 0, []
        deadline = time.time() + seconds
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                s.sendall(request(user))
                reply, _ = read_reply(s)
                s.close()
                if reply.status == 200 and reply.status_text == "SUCCESS":
                    ok += 1
                else:
                    failed.append(reply.status)
            except OSError as e:
                failed.append(repr(e))
            time.sleep(max(0.0, (deadline - time.time()) / max(1, n)))
        return ok, failed

    def flood(self, **env):
        d = Daemon(**env).start()
        user = make_user()
        holder = Holder(d.port, self.HELD)
        try:
            holder.start()
            time.sleep(2)  # the sockets are open (or turned away and open again)
            ok, failed = self.legitimate(d, user, 30, 3)
        finally:
            holder.stop()
            self.assertEqual(d.stop(), 0)
        print(f"\n{env}: {holder.opened} attacker connections opened, {holder.refused} answered 503; "
              f"legitimate: {ok} of 30 succeeded, failures {failed}", file=sys.stderr)
        self.assertEqual((ok, failed), (30, []))
        return d.read_log()

    def test_a_client_gets_through_while_another_holds_2000_idle_sockets(self):
        """Per-client limit (default 128): the attacker's address is
        capped, its other sockets get a 503, and the table has room."""
        log = self.flood()
        self.assertIn("too many connections from this client address", log)

    def test_silent_sockets_are_shed_first_when_the_table_is_full(self):
        """No per-client limit (one address for all, as behind a proxy):
        the table fills with silent sockets; each new connection takes the
        place of the oldest silent one, and silent ones get 2 s once the
        table is three quarters full."""
        log = self.flood(ENTITLEMENTD_MAX_CONNECTIONS_PER_CLIENT=0)
        self.assertIn("connection table full: closed the oldest silent connection", log)

    def test_over_a_limit_the_answer_is_a_503_with_retry_after(self):
        d = Daemon(ENTITLEMENTD_MAX_CONNECTIONS_PER_CLIENT=4, ENTITLEMENTD_MAX_CONNECTIONS=16).start()
        user = make_user()
        held = []
        try:
            # Four of one address: the fifth is turned away.
            for _ in range(4):
                held.append(socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.3", 0)))
            time.sleep(0.2)
            s = socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.3", 0))
            s.sendall(request(user))
            reply, _ = read_reply(s)
            self.assertEqual(reply.status, 503)
            self.assertEqual(reply.headers.get("retry-after"), "1")
            self.assertEqual(reply.headers.get("connection"), "close")
            self.assertIn("x-request-id", reply.headers)
            s.close()
            # The table full of requests still arriving (nothing to shed):
            # the next connection gets the same answer.
            for c in held:
                c.close()
            time.sleep(0.2)
            for i in range(16):
                c = socket.create_connection(("127.0.0.1", d.port), source_address=(f"127.0.1.{i + 1}", 0))
                c.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
                held.append(c)
            time.sleep(0.3)
            s = socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.4", 0))
            s.sendall(request(user))
            reply, _ = read_reply(s)
            self.assertEqual((reply.status, reply.headers.get("retry-after")), (503, "1"))
            s.close()
            # Once some go, a client is served again.
            for c in held:
                c.close()
            time.sleep(0.3)
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(request(user))
            self.assertEqual(read_reply(s)[0].status_text, "SUCCESS")
            s.close()
        finally:
            for c in held:
                c.close()
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
