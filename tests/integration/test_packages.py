"""Update packages (the REST adapter's section 3) through the real daemon
and PostgreSQL: NOUPDATE decided in the request; a package that holds
exactly the changes of the requested products since the date; content
streamed a page of changes per chunk (HTTP/1.1), to the close (HTTP/1.0),
headers only for HEAD, in order with pipelined requests; every wrong
field named in fieldErrors; another user's package invisible; and at most
two packages PROCESSING per user, one atomic step: 20 concurrent requests
give exactly 2 PACKAGED and 18 LIMIT_REACHED while the builds are held back
(the daemons run no job workers), on one daemon and across two."""
import datetime
import json
import socket
import threading
import time
import unittest

from builders import create_body, delete_body
from catalog import Catalog
from harness import Client, Daemon, DaemonTestCase, make_user, psql, token
from rest import RestClient, api_token, bearer, check_openapi
from test_http import read_reply

UPDATES = "/acquisition_api/v1/subscriptionUpdates"
PACKAGES = "/acquisition_api/v1/packages"
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def subscribe(client, products):
    r = client.post("/subscriptions/cloud", {"name": "pkg " + token(4), "products": [
        {"name": n, "version": v} for n, v in products]})
    assert r.status == 201, r
    return r.json["subscriptionRef"], {(p["name"], p["version"]): p["subscriptionProductId"]
                                       for p in r.json["subscriptionProducts"]}


class PackagesTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()
        cls.owner = "pkg-" + token(6)
        cls.rest_token = api_token(user=cls.owner)[1]

    def setUp(self):
        super().setUp()
        self.rest = RestClient(self.daemon, bearer(self.rest_token))

    def tearDown(self):
        self.rest.close()
        super().tearDown()

    def request(self, ref, day, ids, client=None):
        r = (client or self.rest).post(f"{UPDATES}/{ref}/{day}?productIds={ids}")
        return r

    def wait_ready(self, pid):
        deadline = time.time() + 20
        while time.time() < deadline:
            r = self.rest.get(f"{PACKAGES}/{pid}")
            self.assertEqual(r.status, 200, r)
            if r.json["status"] != "PROCESSING":
                return r.json
            time.sleep(0.05)
        self.fail("the package was not built")

    def test_a_package_holds_exactly_the_changes_since_the_date(self):
        cat = Catalog()  # products only this test changes
        ref, ids = subscribe(self.rest, [cat.base, cat.unrelated])
        base, other = ids[cat.base], ids[cat.unrelated]
        # Nothing changed yet for these products.
        r = self.request(ref, "1900-01-01", base)
        self.assertEqual((r.status, r.json["data"]), (200, {"status": "NOUPDATE", "packageId": None}), r)
        eid = "P-" + token(8)
        self.ok(create_body([{"eid": eid, "items": [(eid + "-1", cat.base, 2), (eid + "-2", cat.base, 2)]}]))
        eid2 = "P-" + token(8)
        self.ok(create_body([{"eid": eid2, "items": [(eid2 + "-1", cat.unrelated, 1)]}]))
        tomorrow = TODAY + datetime.timedelta(days=1)
        self.assertEqual(self.request(ref, tomorrow.isoformat(), base).json["data"]["status"], "NOUPDATE")
        r = self.request(ref, TODAY.isoformat(), base)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"]["status"], "PACKAGED")
        self.assertEqual((r.json["fieldErrors"], r.json["globalErrors"]), ([], []))
        pid = r.json["data"]["packageId"]
        p = self.wait_ready(pid)
        self.assertEqual((p["status"], p["itemCount"]), ("READY", 2))
        c = self.rest.get(f"{PACKAGES}/{pid}/content")
        self.assertEqual(c.status, 200, c)
        self.assertEqual(c.json["subscriptionRef"], ref)
        self.assertEqual([(i["operation"], i["activationId"], i["productName"]) for i in c.json["items"]],
                         [("createSimpleEntitlement", eid + "-1", cat.base[0]),
                          ("createSimpleEntitlement", eid + "-2", cat.base[0])])
        # Both products: the other one's change too.
        pid = self.request(ref, "1900-01-01", f"{base},{other}").json["data"]["packageId"]
        self.assertEqual(self.wait_ready(pid)["itemCount"], 3)

    def test_every_wrong_field_is_named(self):
        ref, ids = subscribe(self.rest, [self.cat.base])
        r = self.request(ref, "2026-02-30", "x")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(sorted(e["field"] for e in r.json["fieldErrors"]), ["changesSinceDate", "productIds"])
        self.assertIsNone(r.json["data"])
        for day, q, field in (("yesterday", "1", "changesSinceDate"), ("2026-1-1", "1", "changesSinceDate"),
                              ("2026-01-01", "", "productIds"), ("2026-01-01", "1,,2", "productIds"),
                              ("2026-01-01", "0", "productIds"), ("2026-01-01", "7", "productIds")):
            with self.subTest(day=day, q=q):
                r = self.request(ref, day, q)
                self.assertEqual(r.status, 400, r)
                self.assertEqual([e["field"] for e in r.json["fieldErrors"]], [field])
        r = self.rest.post(f"{UPDATES}/{ref}/2026-01-01")
        self.assertEqual([e["field"] for e in r.json["fieldErrors"]], ["productIds"])
        # Given twice, in either order: which was meant is not guessed.
        for q in ("productIds=1&productIds=2", "productIds=2&productIds=1", "productIds&productIds=1"):
            r = self.rest.post(f"{UPDATES}/{ref}/2026-01-01?{q}")
            self.assertEqual(r.status, 400, r)
            self.assertEqual([(e["field"], e["message"][:24]) for e in r.json["fieldErrors"]],
                             [("productIds", "given more than once: gi")], r.json)
        # A bad date and a product not of the subscription: both named.
        r = self.request(ref, "2026-02-30", "99")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(sorted(e["field"] for e in r.json["fieldErrors"]), ["changesSinceDate", "productIds"])
        r = self.request("sub-nope-" + token(6), "2026-01-01", "1")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(len(r.json["globalErrors"]), 1)
        self.assertEqual(psql("SELECT count(*) FROM update_packages p JOIN subscriptions s ON s.id = "
                              "p.subscription_id WHERE s.ref = :'v1'", ref), [["0"]])

    def test_a_body_is_json_or_refused_and_paths_are_text(self):
        ref, ids = subscribe(self.rest, [self.cat.base])
        url = f"{UPDATES}/{ref}/2026-01-01?productIds={ids[self.cat.base]}"
        r = self.rest.request("POST", url, b"<xml/>", headers={"Content-Type": "text/xml"}, raw=True)
        self.assertEqual(r.status, 415, r)
        r = self.rest.request("POST", url, b"{bad json", raw=True)
        self.assertEqual(r.status, 400, r)
        # Every refusal of the POST is in the API's envelope, the words in
        # globalErrors (the OpenAPI check above holds each to it too).
        for r, status in ((self.rest.request("POST", url, b"<xml/>", headers={"Content-Type": "text/xml"}, raw=True),
                           415),
                          (self.rest.request("POST", url, b"{bad json", raw=True), 400),
                          (self.rest.post(url, auth=False), 401),
                          (self.rest.post(url, headers={"Authorization": "Bearer nope"}), 401)):
            with self.subTest(status=status):
                self.assertEqual(r.status, status, r)
                self.assertEqual((r.json["data"], r.json["fieldErrors"], len(r.json["globalErrors"])), (None, [], 1), r)
        self.assertIn("www-authenticate", r.headers)
        # So are the refusals of the HTTP layer and the router: a body over
        # the cap, another method (with Allow), a malformed request.
        big = RestClient(self.daemon, self.rest.auth)
        self.addCleanup(big.close)
        s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10)
        s.sendall(f"POST {url} HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n".encode())
        malformed, _ = read_reply(s)
        s.close()
        check_openapi("POST", url, malformed.status, malformed.headers, malformed.body)
        for r, status in ((big.request("POST", url, b"[" + b"1," * 600000 + b"1]", raw=True), 413),
                          (self.rest.get(url), 405), (malformed, 400)):
            with self.subTest(status=status):
                self.assertEqual(r.status, status, r)
                doc = json.loads(r.body)
                self.assertEqual((doc["data"], doc["fieldErrors"], len(doc["globalErrors"])), (None, [], 1), r)
        self.assertEqual(self.rest.get(url).headers["allow"], "POST")
        self.assertEqual(self.rest.post(url, {}).status, 200)
        # A malformed HTTP request (Authorization twice) is a 400 of the
        # Error shape, as the OpenAPI document says.
        for path in (f"{PACKAGES}/x", f"{PACKAGES}/x/content"):
            with self.subTest(path=path):
                s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10)
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n".encode())
                reply, _ = read_reply(s)
                s.close()
                self.assertEqual(reply.status, 400, reply.body)
                check_openapi("GET", path, reply.status, reply.headers, reply.body)
        # Path segments that are not UTF-8 text name nothing.
        for path in (f"{PACKAGES}/%FF", f"{PACKAGES}/%FF/content", f"{PACKAGES}/a%01b",
                     f"{UPDATES}/%FF/1900-01-01?productIds=1", f"{UPDATES}/%C3%28/1900-01-01?productIds=1"):
            with self.subTest(path=path):
                r = self.rest.request("GET" if path.startswith(PACKAGES) else "POST", path)
                self.assertEqual(r.status, 404, r)

    def test_idempotency_key(self):
        cat = Catalog()
        ref, ids = subscribe(self.rest, [cat.base])
        eid = "P-" + token(8)
        self.ok(create_body([{"eid": eid, "items": [(eid + "-1", cat.base, 2)]}]))
        url = f"{UPDATES}/{ref}/{TODAY.isoformat()}?productIds={ids[cat.base]}"
        key = "p-" + token(10)
        a = self.rest.post(url, headers={"Idempotency-Key": key})
        self.assertEqual(a.json["data"]["status"], "PACKAGED", a)
        b = self.rest.post(url, headers={"Idempotency-Key": key})
        self.assertEqual((b.status, b.json), (200, a.json))
        self.assertEqual(b.headers.get("idempotent-replayed"), "true")
        self.assertEqual(psql("SELECT count(*) FROM update_packages p JOIN subscriptions s ON s.id = "
                              "p.subscription_id WHERE s.ref = :'v1'", ref), [["1"]])
        r = self.rest.post(f"{UPDATES}/{ref}/1900-01-01?productIds={ids[cat.base]}", headers={"Idempotency-Key": key})
        self.assertEqual(r.status, 409, r)
        # The query is part of the request: other productIds are another one.
        r = self.rest.post(f"{UPDATES}/{ref}/{TODAY.isoformat()}?productIds={ids[cat.base]},{ids[cat.base]}",
                           headers={"Idempotency-Key": key})
        self.assertEqual(r.status, 409, r)
        self.wait_ready(a.json["data"]["packageId"])

    def test_another_users_package_is_invisible(self):
        ref, ids = subscribe(self.rest, [self.cat.base])
        eid = "P-" + token(8)
        self.ok(create_body([{"eid": eid, "items": [(eid + "-1", self.cat.base, 2)]}]))
        pid = self.request(ref, TODAY.isoformat(), ids[self.cat.base]).json["data"]["packageId"]
        self.wait_ready(pid)
        other = RestClient(self.daemon, bearer(api_token(user="other-" + token(6))[1]))
        self.assertEqual(other.get(f"{PACKAGES}/{pid}").status, 404)
        self.assertEqual(other.get(f"{PACKAGES}/{pid}/content").status, 404)
        # Nor can it ask for packages of a subscription it cannot see.
        self.assertEqual(self.request(ref, TODAY.isoformat(), ids[self.cat.base], client=other).status, 404)
        other.close()
        self.assertEqual(RestClient(self.daemon).get(f"{PACKAGES}/{pid}").status, 401)


def read_head(sock, buf=b""):
    """Reads a response's status line and headers: (status, headers, rest)."""
    while b"\r\n\r\n" not in buf:
        more = sock.recv(65536)
        if not more:
            raise AssertionError(f"connection closed before the headers: {buf!r}")
        buf += more
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, rest


def read_chunks(sock, buf):
    """Reads a chunked body: (chunks, complete, what follows it)."""
    chunks = []
    while True:
        while b"\r\n" not in buf:
            more = sock.recv(65536)
            if not more:
                return chunks, False, b""
            buf += more
        size_line, buf = buf.split(b"\r\n", 1)
        size = int(size_line, 16)
        while len(buf) < size + 2:
            more = sock.recv(1 << 20)
            if not more:
                return chunks, False, b""
            buf += more
        if size == 0:
            return chunks, buf[:2] == b"\r\n", buf[2:]
        assert buf[size:size + 2] == b"\r\n", buf[size:size + 10]
        chunks.append(buf[:size])
        buf = buf[size + 2:]


class StreamTest(DaemonTestCase):
    """A package of several pages: its content comes a page per chunk."""

    ITEMS = 2100  # three pages of at most 1,000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cat = Catalog()
        owner = "stream-" + token(6)
        cls.rest_token = api_token(user=owner)[1]
        rest = RestClient(cls.daemon, bearer(cls.rest_token))
        ref, ids = subscribe(rest, [cat.base])
        cls.aids = []
        ents = []
        for e in range(3):
            eid = "S-" + token(8)
            items = [(f"{eid}-{i}", cat.base, 1) for i in range(cls.ITEMS // 3)]
            cls.aids += [a for a, _, _ in items]
            ents.append({"eid": eid, "items": items, "auto_deploy": False})  # DRAFT: deleted at the end
        cls.eids = [e["eid"] for e in ents]
        cls.user = make_user()
        soap = Client(cls.daemon, cls.user)
        r = soap.call(create_body(ents))
        assert r.status_text == "SUCCESS", r.body[:2000]
        soap.close()
        r = rest.post(f"{UPDATES}/{ref}/{TODAY.isoformat()}?productIds={ids[cat.base]}")
        assert r.json["data"]["status"] == "PACKAGED", r
        cls.pid = r.json["data"]["packageId"]
        cls.ref = ref
        deadline = time.time() + 60
        while rest.get(f"{PACKAGES}/{cls.pid}").json["status"] == "PROCESSING":
            assert time.time() < deadline, "the package was not built"
            time.sleep(0.05)
        rest.close()

    @classmethod
    def tearDownClass(cls):
        # Entitlements of 700 line items would weigh on other tests' searches.
        soap = Client(cls.daemon, cls.user)
        r = soap.call(delete_body(cls.eids))
        soap.close()
        super().tearDownClass()
        assert r.status_text == "SUCCESS", r.body[:2000]

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=30)
        self.addCleanup(s.close)
        return s

    def head(self, method="GET", version="1.1", path=None):
        return (f"{method} {path or f'{PACKAGES}/{self.pid}/content'} HTTP/{version}\r\nHost: x\r\n"
                f"Authorization: Bearer {self.rest_token}\r\n\r\n").encode()

    def check_document(self, body):
        doc = json.loads(body)
        self.assertEqual((doc["packageId"], doc["subscriptionRef"], doc["changesSinceDate"]),
                         (self.pid, self.ref, TODAY.isoformat()))
        self.assertEqual([i["activationId"] for i in doc["items"]], self.aids)
        self.assertTrue(all(i["operation"] == "createSimpleEntitlement" for i in doc["items"]))

    def test_content_is_chunked_a_page_at_a_time(self):
        s = self.connect()
        s.sendall(self.head())
        status, headers, rest = read_head(s)
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        self.assertNotIn("content-length", headers)
        self.assertEqual(headers["connection"], "keep-alive")
        self.assertTrue(headers["content-type"].startswith("application/json"))
        chunks, complete, left = read_chunks(s, rest)
        self.assertTrue(complete)
        self.assertEqual(left, b"")
        self.assertEqual(len(chunks), 3)  # the start with page 0, page 1, page 2 with the end
        self.check_document(b"".join(chunks))
        self.assertEqual(self.rest_get_description()["itemCount"], self.ITEMS)
        # The connection serves the next request.
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(read_head(s)[0], 200)

    def rest_get_description(self):
        rest = RestClient(self.daemon, bearer(self.rest_token))
        self.addCleanup(rest.close)
        return rest.get(f"{PACKAGES}/{self.pid}").json

    def test_http10_content_ends_with_the_close(self):
        s = self.connect()
        s.sendall(self.head(version="1.0"))
        status, headers, body = read_head(s)
        self.assertEqual(status, 200)
        self.assertNotIn("transfer-encoding", headers)
        self.assertNotIn("content-length", headers)
        self.assertEqual(headers["connection"], "close")
        while True:
            more = s.recv(1 << 20)
            if not more:
                break
            body += more
        self.check_document(body)

    def test_head_has_no_body_and_pipelined_requests_follow_in_order(self):
        s = self.connect()
        s.sendall(self.head(method="HEAD") + self.head() + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, rest = read_head(s)
        self.assertEqual((status, headers.get("transfer-encoding")), (200, "chunked"))
        status, headers, rest = read_head(s, rest)  # HEAD's answer has no body
        self.assertEqual((status, headers.get("transfer-encoding")), (200, "chunked"))
        chunks, complete, rest = read_chunks(s, rest)
        self.assertTrue(complete)
        self.check_document(b"".join(chunks))
        status, headers, rest = read_head(s, rest)
        self.assertEqual(status, 200)

    def test_a_reader_that_stops_holds_no_worker(self):
        """Clients that take nothing of the content: each holds a piece in
        the daemon, no worker; every other request is served."""
        stalled = []
        for _ in range(6):  # more than the daemon's workers
            # A small window (set before connecting, as TCP scales it then)
            # so that the kernel's buffers cannot take the whole content.
            s = socket.socket()
            self.addCleanup(s.close)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
            s.settimeout(30)
            s.connect(("127.0.0.1", self.daemon.port))
            s.sendall(self.head())
            stalled.append(s)
        time.sleep(0.5)
        rest = RestClient(self.daemon, bearer(self.rest_token))
        self.addCleanup(rest.close)
        for _ in range(5):
            self.assertEqual(rest.get(f"{PACKAGES}/{self.pid}").status, 200)
        # And they can still read it all.
        for s in stalled:
            status, headers, rest_bytes = read_head(s)
            chunks, complete, _ = read_chunks(s, rest_bytes)
            self.assertTrue(complete)
            self.check_document(b"".join(chunks))


class LimitTest(unittest.TestCase):
    """No job workers: the packages stay PROCESSING."""

    def run_requests(self, daemons, held=True):
        user = "limit-" + token(6)
        tok = api_token(user=user)[1]
        cat = Catalog()
        c = RestClient(daemons[0], bearer(tok))
        ref, ids = subscribe(c, [cat.base])
        eid = "L-" + token(8)
        c.close()
        # A change of the product, so that the requests are not NOUPDATE.
        u = make_user()
        soap = Client(daemons[0], u)
        r = soap.call(create_body([{"eid": eid, "items": [(eid + "-1", cat.base, 1)]}]))
        assert r.status_text == "SUCCESS", r.body
        soap.close()
        results, lock = [], threading.Lock()
        barrier = threading.Barrier(20)

        def ask(i):
            cl = RestClient(daemons[i % len(daemons)], bearer(tok))
            barrier.wait()
            r = cl.post(f"{UPDATES}/{ref}/1900-01-01?productIds={ids[cat.base]}")
            cl.close()
            with lock:
                results.append((r.status, r.json["data"]["status"], r.headers.get("retry-after")))

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(s for _, s, _ in results)
        self.assertEqual(statuses, ["LIMIT_REACHED"] * 18 + ["PACKAGED"] * 2)
        self.assertTrue(all(code == 200 for code, _, _ in results))
        self.assertTrue(all(ra == "5" for _, s, ra in results if s == "LIMIT_REACHED"))
        if held:
            self.assertEqual(psql("SELECT count(*) FROM update_packages WHERE owner = :'v1' AND "
                                  "status = 'PROCESSING'", user), [["2"]])
        return user

    def test_twenty_requests_with_the_job_workers_running(self):
        # As deployed: a small package builds in milliseconds, and a burst
        # still meets the two PROCESSING (ENTITLEMENTD_PACKAGE_DELAY_MS);
        # then both are built.
        d = Daemon().start()
        try:
            user = self.run_requests([d], held=False)
            deadline = time.time() + 30
            while time.time() < deadline and psql(
                    "SELECT count(*) FROM update_packages WHERE owner = :'v1' AND status = 'READY'", user) != [["2"]]:
                time.sleep(0.2)
            self.assertEqual(psql("SELECT status, count(*) FROM update_packages WHERE owner = :'v1' GROUP BY 1",
                                  user), [["READY", "2"]])
        finally:
            self.assertEqual(d.stop(), 0)

    def test_twenty_requests_on_one_daemon(self):
        d = Daemon(ENTITLEMENTD_JOB_WORKERS="0").start()
        try:
            self.run_requests([d])
        finally:
            self.assertEqual(d.stop(), 0)

    def test_twenty_requests_across_two_daemons(self):
        a = Daemon(ENTITLEMENTD_JOB_WORKERS="0").start()
        b = Daemon(ENTITLEMENTD_JOB_WORKERS="0").start()
        try:
            self.run_requests([a, b])
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)


if __name__ == "__main__":
    unittest.main()
