"""The daemon's own start and stop, as replicas behind a load balancer
need them: started before its database is reachable it waits with backoff
(/healthz 200, /readyz and every other request 503 with Retry-After) and
turns ready once the database answers, without a restart; on SIGTERM
/readyz turns 503 first while requests are still served, then the daemon
finishes what is in flight and exits 0, and a client that stops sending
once /readyz says 503 sees no connection error and loses no answer."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from builders import search_body, simple_query
from harness import DAEMON, Client, Daemon, User, make_user, token
from pgproxy import pump
from test_http import read_reply


def unix_socket_of(conninfo):
    """The PostgreSQL socket file of a keyword conninfo with a directory as
    host, else None."""
    kv = dict(re.findall(r"(\w+)=(\S+)", conninfo))
    host = kv.get("host", "")
    if not host.startswith("/"):
        return None
    return os.path.join(host, f".s.PGSQL.{kv.get('port', '5432')}")


class Proxy:
    """TCP on a loopback port, forwarded to PostgreSQL's unix socket once
    opened: a database that becomes reachable."""

    def __init__(self, path):
        self.path = path
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()  # nothing listens yet: connections are refused
        self.server = None

    def open(self):
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.server.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX)
            u.connect(self.path)
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()


    def close(self):
        if self.server is not None:
            self.server.close()


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


class StartTest(unittest.TestCase):
    def test_waits_for_its_database_then_turns_ready(self):
        path = unix_socket_of(os.environ.get("DATABASE_URL", ""))
        if path is None or not os.path.exists(path):
            self.skipTest("DATABASE_URL is not a local cluster's socket directory")
        kv = dict(re.findall(r"(\w+)=(\S+)", os.environ["DATABASE_URL"]))
        proxy = Proxy(path)
        url = f"host=127.0.0.1 port={proxy.port} dbname={kv['dbname']} user={kv['user']}"
        d = Daemon(DATABASE_URL=url, ENTITLEMENTD_DB_CONNECT_TIMEOUT=1)
        # Not Daemon.start(), which waits for the WSDL: that is a 503 here.
        d.proc = subprocess.Popen([DAEMON], env=d.env, stdout=d.log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 20
            while True:
                try:
                    status, _, _ = get(d.port, "/healthz")
                    break
                except OSError:
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.1)
            self.assertEqual(status, 200)
            status, headers, body = get(d.port, "/readyz")
            self.assertEqual((status, headers.get("retry-after")), (503, "1"), body)
            self.assertIn(b"starting", body)
            status, headers, _ = get(d.port, "/flexnet/services/v4/EntitlementOrderService?wsdl")
            self.assertEqual((status, headers.get("retry-after")), (503, "1"))
            time.sleep(2)
            self.assertIsNone(d.proc.poll(), "the daemon must wait, not exit")
            proxy.open()
            deadline = time.time() + 30
            while get(d.port, "/readyz")[0] != 200:
                self.assertLess(time.time(), deadline, d.read_log()[-2000:])
                time.sleep(0.2)
            user = make_user()
            self.assertEqual(Client(d, user).call(search_body()).status_text, "SUCCESS")
            log = d.read_log()
            self.assertIn("the database cannot be reached (attempt 1)", log)
            self.assertIn("entitlementd ready", log)
        finally:
            self.assertEqual(d.stop(), 0)
            proxy.close()

    def test_sigterm_while_waiting_exits_0(self):
        d = Daemon(DATABASE_URL="postgresql://127.0.0.1:1/none", ENTITLEMENTD_DB_CONNECT_TIMEOUT=1)
        d.proc = subprocess.Popen([DAEMON], env=d.env, stdout=d.log, stderr=subprocess.STDOUT)
        time.sleep(1.5)
        self.assertEqual(d.stop(), 0)


class StopTest(unittest.TestCase):
    def test_sigterm_turns_readyz_503_first_and_loses_nothing(self):
        d = Daemon(ENTITLEMENTD_SHUTDOWN_DELAY=5).start()
        user = make_user()
        stop_sending = threading.Event()
        answers, errors, lock = [], [], threading.Lock()

        # A cheap request (a search that finds nothing), so that many are
        # answered in the test's half second whatever the database holds.
        cheap = search_body(simple_query("entitlementId", "none-" + token(8)))

        def load():
            c = Client(d, user)
            while not stop_sending.is_set():
                try:
                    r = c.call(cheap)
                    with lock:
                        answers.append(r.status_text)
                except Exception as e:  # a connection error is what must not happen
                    with lock:
                        errors.append(repr(e))
                    return
            c.close()

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        # The load balancer's view: /readyz turns 503 at once ...
        while get(d.port, "/readyz")[0] != 503:
            self.assertLess(time.time() - t0, 4)
            time.sleep(0.05)
        turned = time.time() - t0
        before = len(answers)
        # ... while requests are still served; the clients stop then.
        time.sleep(0.5)
        served_meanwhile = len(answers) - before
        stop_sending.set()
        for t in threads:
            t.join()
        rc = d.proc.wait(timeout=30)
        d.proc = None
        self.assertEqual(rc, 0)
        self.assertEqual(errors, [])
        self.assertTrue(answers and all(a == "SUCCESS" for a in answers), set(answers))
        self.assertLess(turned, 4.0)  # well before the listener closes (5 s)
        self.assertGreater(served_meanwhile, 0)
        self.assertIn("not ready: closing the listener in 5 s", d.read_log())


class LogTest(unittest.TestCase):
    def test_json_lines_and_sighup_switches_to_debug_and_back(self):
        d = Daemon(ENTITLEMENTD_LOG_FORMAT="json").start()
        try:
            odd = 'q"uo\\te-' + token(6)
            Client(d, User(odd, "x")).call(search_body())
            d.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
            d.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
            log = d.read_log()
        finally:
            self.assertEqual(d.stop(), 0)
        lines = [json.loads(line) for line in log.splitlines() if line.strip()]
        self.assertTrue(all(set(x) == {"time", "level", "request_id", "message"} for x in lines), lines[:3])
        failed = [x for x in lines if "authentication failed" in x["message"]]
        self.assertTrue(failed and odd in failed[0]["message"], failed)
        self.assertRegex(failed[0]["request_id"], r"^[0-9a-f]{16}$")
        levels = [x["message"] for x in lines if x["message"].startswith("SIGHUP")]
        self.assertEqual(levels, ["SIGHUP: log level now debug", "SIGHUP: log level now info"])


if __name__ == "__main__":
    unittest.main()
