"""Test harness: a real entitlementd on a free port against the PostgreSQL
cluster that scripts/test started (DATABASE_URL), plus helpers to speak SOAP
over real sockets and to look into the database.

Environment (set by CTest, see tests/CMakeLists.txt):
  ENTITLEMENTD_BIN      path of the entitlementd binary
  ENTITLEMENTCTL_BIN    path of the entitlementctl binary
  ENTITLEMENTD_SOURCE   project root (for schemas/)
  DATABASE_URL          the test cluster
"""
import base64
import http.client
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from lxml import etree

NS = "urn:v4.webservices.operations.flexnet.com"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PATH = "/flexnet/services/v4/EntitlementOrderService"
ROOT = os.environ.get("ENTITLEMENTD_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
DAEMON = os.environ.get("ENTITLEMENTD_BIN", os.path.join(ROOT, "build", "bin", "entitlementd"))
CTL = os.environ.get("ENTITLEMENTCTL_BIN", os.path.join(ROOT, "build", "bin", "entitlementctl"))
# Daemon logs go beside the test cluster, which scripts/test wipes before
# each run, rather than piling up in the system's temporary directory.
LOG_DIR = os.path.join(os.environ["ENTITLEMENTD_TEST_HOME"], "daemon-logs") if os.environ.get("ENTITLEMENTD_TEST_HOME") else None
if LOG_DIR:
    os.makedirs(LOG_DIR, exist_ok=True)
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "response does not match the schema")

_schema = None


def schema():
    """The project's XSD, loaded once, for validating every payload."""
    global _schema
    if _schema is None:
        _schema = etree.XMLSchema(etree.parse(os.path.join(ROOT, "schemas", "EntitlementOrderService.xsd")))
    return _schema


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token(n=8):
    """A short random tag that keeps test data of different runs apart."""
    return secrets.token_hex(n // 2)


def psql(sql, *params):
    """Runs one SQL statement with psql against DATABASE_URL; returns rows
    as lists of strings. Parameters are passed as psql variables and
    quoted by psql (:'v1'), never pasted into the text."""
    args = ["psql", os.environ["DATABASE_URL"], "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for i, p in enumerate(params, 1):
        args += ["-v", f"v{i}={p}"]
    out = subprocess.run(args, input=sql, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line != ""]


class RowLock:
    """A psql session that holds line item aid locked (SELECT ... FOR
    UPDATE) in an open transaction, from construction until end()."""

    def __init__(self, aid):
        self.proc = subprocess.Popen(["psql", os.environ["DATABASE_URL"], "-X", "-q", "-A", "-t", "-v",
                                      "ON_ERROR_STOP=1", "-v", f"aid={aid}"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write("BEGIN;\nSELECT 'locked' FROM line_items WHERE activation_id = :'aid' FOR UPDATE;\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if line != "locked":
            self.end()
            raise AssertionError(f"the row of {aid} could not be locked: {line!r}")

    def end(self, sql="ROLLBACK;"):
        """Ends the transaction with sql (COMMIT or ROLLBACK) and the
        session; returns psql's exit status, or None when it had to be
        killed (already gone, or stuck)."""
        if self.proc is None:
            return None
        status = None
        try:
            self.proc.stdin.write(sql + "\n")
            self.proc.stdin.close()
            status = self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None
        return status


def ctl(*args, stdin=None, check=True):
    return subprocess.run([CTL, *args], input=stdin, capture_output=True, text=True, check=check)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.xml = None
        self.payload = None
        try:
            self.xml = etree.fromstring(body)
            b = self.xml.find(f"{{{SOAP_ENV}}}Body")
            if b is not None and len(b):
                self.payload = b[0]
        except etree.XMLSyntaxError:
            pass

    @property
    def is_fault(self):
        return self.payload is not None and self.payload.tag == f"{{{SOAP_ENV}}}Fault"

    @property
    def faultcode(self):
        return self.payload.findtext("faultcode") if self.is_fault else None

    @property
    def faultstring(self):
        return self.payload.findtext("faultstring") if self.is_fault else None

    def find(self, path):
        return self.payload.find(path, {"f": NS, "e": NS})

    def findall(self, path):
        return self.payload.findall(path, {"f": NS})

    def text(self, path):
        return self.payload.findtext(path, namespaces={"f": NS})

    @property
    def status_text(self):
        return self.text("f:statusInfo/f:status")

    @property
    def reason_text(self):
        return self.text("f:statusInfo/f:reason")


class Daemon:
    """One entitlementd process on a free port."""

    def __init__(self, wrapper=(), **env):
        self.wrapper = list(wrapper)
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({"ENTITLEMENTD_PORT": str(self.port), "ENTITLEMENTD_WORKERS": "4",
                         "ENTITLEMENTD_DB_POOL_SIZE": "4", "ENTITLEMENTD_LOG_LEVEL": "info",
                         # The daemon checks every request it accepts and every
                         # answer it gives against the XSD, too.
                         "ENTITLEMENTD_VALIDATE_XML": "1"})
        self.env.update({k: str(v) for k, v in env.items()})
        self.log = tempfile.NamedTemporaryFile(prefix="entitlementd-", suffix=".log", delete=False, dir=LOG_DIR)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.wrapper + [DAEMON], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("entitlementd exited at start:\n" + self.read_log())
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", PATH + "?wsdl")
                if c.getresponse().status == 200:
                    c.close()
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("entitlementd did not answer ?wsdl in 30 s:\n" + self.read_log())

    def read_log(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM; the daemon must drain and exit 0, with no sanitizer report."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        log = self.read_log()
        for marker in SANITIZER_MARKERS:
            if marker in log:
                raise AssertionError(f"sanitizer report in the daemon log:\n{log[-6000:]}")
        return rc


class User:
    def __init__(self, name, password):
        self.name = name
        self.password = password

    def basic(self):
        raw = f"{self.name}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def make_user(admin=False):
    name = "u" + token(10)
    password = "p" + token(16)
    args = ["user", "add", name] + (["--admin"] if admin else [])
    ctl(*args, stdin=password + "\n")
    return User(name, password)


def envelope(body, header="", ns=NS):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:v4="{ns}">'
            f'<soapenv:Header>{header}</soapenv:Header><soapenv:Body>{body}</soapenv:Body>'
            f'</soapenv:Envelope>').encode()


class Client:
    """A keep-alive HTTP connection that posts SOAP envelopes."""

    def __init__(self, daemon, user=None, path=PATH):
        self.daemon = daemon
        self.user = user
        self.path = path
        self.conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)

    def close(self):
        self.conn.close()

    def raw(self, data, headers=None, method="POST", path=None, auth=True):
        h = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        if auth and self.user is not None:
            h["Authorization"] = self.user.basic()
        h.update(headers or {})
        try:
            self.conn.request(method, path or self.path, body=data, headers=h)
            r = self.conn.getresponse()
            body = r.read()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()
            raise
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return Response(r.status, dict(r.getheaders()), body)

    def call(self, body, validate=True, **kw):
        r = self.raw(envelope(body), **kw)
        if validate and r.payload is not None and not r.is_fault:
            schema().assertValid(r.payload)
        return r


def end_backends_while(seconds, clients):
    """Runs the functions clients, each in a thread, until told to stop
    (their argument, a threading.Event, is set), while the daemons' busy
    backends are ended every 5 to 25 ms for seconds (pg_terminate_backend,
    as a server shutting down ends them). Returns how many were ended."""
    stop = threading.Event()
    threads = [threading.Thread(target=f, args=(stop,)) for f in clients]
    for t in threads:
        t.start()
    deadline, kills = time.time() + seconds, 0
    while time.time() < deadline:
        time.sleep(0.005 + 0.01 * (kills % 3))
        kills += int(psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                          "application_name = 'entitlementd' AND pid <> pg_backend_pid() "
                          "AND state <> 'idle'")[0][0])
    stop.set()
    for t in threads:
        t.join()
    return kills


def post_at_once(daemon, bodies, users):
    """Posts the SOAP bodies at the same moment, each on a connection of its
    own as users[i] (a User, or None); returns the responses in order."""
    results = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def run(i):
        c = Client(daemon, users[i])
        try:
            barrier.wait()
            results[i] = c.call(bodies[i])
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class DaemonTestCase(unittest.TestCase):
    """Starts one daemon and one user for the test class."""

    daemon_env = {}

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(**cls.daemon_env).start()
        cls.user = make_user()

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop()
        if rc != 0:
            raise AssertionError(f"entitlementd exited {rc}:\n{cls.daemon.read_log()[-4000:]}")

    def setUp(self):
        self.client = Client(self.daemon, self.user)

    def ok(self, body, expect="SUCCESS"):
        """Calls and checks for a business answer with status expect."""
        r = self.client.call(body)
        self.assertEqual(r.status, 200, r.body)
        self.assertFalse(r.is_fault, r.body)
        self.assertEqual(r.status_text, expect, r.body)
        return r

    def tearDown(self):
        self.client.close()
