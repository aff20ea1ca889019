"""The REST adapter's common rules through the real daemon: routing beside
SOAP on one port (404, 405 with Allow), the JSON body cap (413), media
types (415), X-Request-Id, health, readiness and metrics, the OpenAPI
document (every route documented, every documented route served), and 503
with Retry-After while the database is down, with nothing half-written."""
import json
import os
import re
import socket
import subprocess
import unittest

from harness import PATH, Client, DaemonTestCase, envelope, psql, token
from builders import search_body
from rest import (DEVICE, KEY_PATH, STATUSLOG, Publisher, RestClient, admin_user, api_token, bearer,
                  check_openapi, openapi, status_body)
from test_devices import report


class RestCommonTest(DaemonTestCase):
    daemon_env = {"ENTITLEMENTD_MAX_JSON_BYTES": "4096"}

    def setUp(self):
        super().setUp()
        self.rest = RestClient(self.daemon)
        self.addCleanup(self.rest.close)

    def test_one_port_two_fronts(self):
        r = self.client.call(search_body())
        self.assertEqual(r.status_text, "SUCCESS")
        h = self.rest.get("/healthz")
        self.assertEqual((h.status, h.json), (200, {"status": "ok"}))
        self.assertEqual(self.rest.get("/readyz").json, {"status": "ready"})

    def test_unknown_routes_and_methods(self):
        r = self.rest.get("/no/such/route")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json, {"message": "no resource at this path", "status": 404})
        r = self.rest.request("DELETE", "/healthz")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers["allow"], "GET, HEAD")
        r = self.rest.request("GET", STATUSLOG)
        self.assertEqual((r.status, r.headers["allow"]), (405, "POST"))
        r = self.rest.request("POST", KEY_PATH, {})
        self.assertEqual((r.status, r.headers["allow"]), (405, "PUT, DELETE"))
        r = self.rest.request("PATCH", DEVICE + "/tenants/t/summary", {})
        self.assertEqual((r.status, r.headers["allow"]), (405, "GET, HEAD"))
        # A subscription's short status path is that, not /{platformType}/{ref}
        # of a subscription named "status".
        for method in ("POST", "DELETE"):
            r = self.rest.request(method, "/subscriptions/some-ref/status", {})
            self.assertEqual((r.status, r.headers["allow"]), (405, "GET, HEAD"))

    def test_head_is_get_without_the_body(self):
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        s.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}"):
            chunk = s.recv(65536)
            self.assertTrue(chunk, data)
            data += chunk
        s.close()
        first, second = data.split(b"HTTP/1.1 200", 2)[1:]
        self.assertIn(b"Content-Length: 15", first)
        self.assertTrue(first.endswith(b"\r\n\r\n"), first)  # no body after the HEAD's header
        self.assertTrue(second.endswith(b'{"status":"ok"}'), second)

    def test_long_targets(self):
        # REST paths take ids of 255 characters, percent-encoded...
        r = self.rest.get(DEVICE + "/tenants/" + "%C3%BC" * 255 + "/summary")
        self.assertEqual(r.status, 401, r)
        # Longer than a header line may be too (it was a 431 then): still
        # the target's 414, from its path's front.
        for n in (2100, 10000):
            r = self.rest.get("/x" * n, check=False)
            self.assertEqual(r.status, 414, r)
            self.assertEqual(r.json["status"], 414)
        r = Client(self.daemon, self.user).raw(envelope(search_body()), path=PATH + "?" + "a" * 20000)
        self.assertEqual(r.status, 414, r.body)
        self.assertEqual(r.faultcode, "SOAP-ENV:Client")
        # ...the SOAP front keeps gSOAP's 1000 bytes.
        r = Client(self.daemon, self.user).raw(envelope(search_body()), path=PATH + "?" + "a" * 1200)
        self.assertEqual(r.status, 414, r.body)
        self.assertEqual(r.faultcode, "SOAP-ENV:Client")

    def test_body_limits_and_media_types(self):
        pub = Publisher(self.daemon, admin_user())
        big = status_body(pub.name, updateName="x" * 5000)
        r = self.rest.post(STATUSLOG, big, headers={"Authorization": pub.auth()}, auth=False)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json["status"], 413)
        self.assertIn("4096", r.json["message"])
        # Chunked, and sent with Expect: 100-continue: refused before the body.
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        s.sendall(f"POST {STATUSLOG} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n".encode())
        head = s.recv(65536).decode("latin-1")
        s.close()
        self.assertTrue(head.startswith("HTTP/1.1 413"), head)
        self.assertIn("application/json", head)
        self.assertRegex(head, r"(?i)x-request-id: \S+")
        # SOAP keeps its own (larger) limit on the same port.
        r = Client(self.daemon, self.user).raw(envelope(search_body()).replace(b"</soapenv:Body>",
                                                                             b" " * 6000 + b"</soapenv:Body>"))
        self.assertEqual(r.status, 200, r.body)
        r = self.rest.request("POST", STATUSLOG, b"{}", raw=True,
                              headers={"Authorization": pub.auth(), "Content-Type": "text/xml"})
        self.assertEqual(r.status, 415, r)
        # Nothing sent (no body, no Content-Type) where a body is required:
        # a 400 that says so, not a 415 (no body of another type came).
        tok = api_token(user="u-" + token(6))[1]
        for path, auth in ((STATUSLOG, pub.auth()), ("/subscriptions/cloud", bearer(tok)),
                           (DEVICE, bearer(api_token(tenant="t-" + token(6))[1]))):
            with self.subTest(path=path):
                r = self.rest.request("POST", path, headers={"Authorization": auth}, auth=False)
                self.assertEqual(r.status, 400, r)
                self.assertIn("a JSON body is required", r.body.decode())
                r = self.rest.request("POST", path, b"", raw=True,
                                      headers={"Authorization": auth, "Content-Type": "text/plain"}, auth=False)
                self.assertEqual(r.status, 415, r)
        # A body sent where none is read is JSON too, or 415, and
        # well-formed, or 400.
        for ctype, body, status in (("text/plain", b"{}", 415), ("application/json", b"{}", 200),
                                    ("application/json", b"{bad", 400)):
            r = self.rest.request("GET", "/healthz", body, raw=True, headers={"Content-Type": ctype})
            self.assertEqual(r.status, status, r)
        # Without a length a request has no body (RFC 9112, 6.3): it is
        # routed and judged as one with an empty body (curl -X POST sends
        # neither Content-Length nor chunked). A method HTTP does not
        # define is a 501, and an HTTP/1.1 request without Host, or with an
        # invalid one, a 400: JSON on REST paths.
        for raw, status in ((f"PUT {KEY_PATH} HTTP/1.1\r\nHost: x\r\n\r\n", b"401"),
                            ("POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
                            ("POST /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
                            ("BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"501"),
                            ("get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"501"),
                            ("GET /healthz HTTP/1.1\r\n\r\n", b"400"),
                            ("GET /healthz HTTP/1.1\r\nHost: x/y\r\n\r\n", b"400"),
                            ("GET /healthz HTTP/1.1\r\nHost:\r\n\r\n", b"200"),
                            ("GET /healthz HTTP/1.0\r\n\r\n", b"200")):
            s = socket.create_connection(("127.0.0.1", self.daemon.port))
            s.sendall(raw.encode())
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            self.assertTrue(re.match(rb"HTTP/1\.[01] " + status, got), (raw, got))
            if status in (b"400", b"501"):
                self.assertIn(b"application/json", got.split(b"\r\n\r\n")[0], (raw, got))
            s.close()

    def test_every_response_has_a_date(self):
        # RFC 9110, 6.6.1: REST, SOAP (gSOAP's own headers), the WSDL and a
        # refusal by the HTTP layer alike.
        date = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} " \
               r"\d\d:\d\d:\d\d GMT$"
        for r in (self.rest.get("/healthz"), self.rest.get("/nope"),
                  self.rest.get(PATH + "?wsdl", check=False)):
            self.assertRegex(r.headers.get("date", ""), date)
        r = self.client.call(search_body())
        self.assertEqual(r.status_text, "SUCCESS")
        self.assertRegex({k.lower(): v for k, v in r.headers.items()}.get("date", ""), date)
        s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")  # refused by the HTTP layer
        head = s.recv(65536).decode("latin-1")
        s.close()
        self.assertTrue(head.startswith("HTTP/1.1 400"), head)
        self.assertRegex(head, r"(?im)^date: \w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT\r$")

    def test_request_ids(self):
        r = self.rest.get("/healthz", headers={"X-Request-Id": "abc-123"})
        self.assertEqual(r.headers["x-request-id"], "abc-123")
        r = self.rest.get("/nope")
        self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f]{16}$")
        # What tracing systems send, up to 128 characters, comes back as sent.
        for rid in ("Root=1-5759e988-bd862e3f;Parent=53995c3f/+=", "y" * 128):
            r = self.rest.get("/healthz", headers={"X-Request-Id": rid})
            self.assertEqual(r.headers["x-request-id"], rid)
        for rid in ("x" * 129, 'a"b', "a<b>", "a\\b"):
            r = self.rest.get("/healthz", headers={"X-Request-Id": rid})
            self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f]{16}$")
        # A request refused for a header before its X-Request-Id, or for
        # its method, still gets its id back, in either front's format.
        for head, status in ((b"GET /healthz HTTP/1.1\r\nHost: a b\r\nX-Request-Id: late-1\r\n\r\n", 400),
                             (b"BREW /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: late-1\r\n\r\n", 501),
                             (b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n"
                              b"X-Request-Id: late-1\r\n\r\n", 400)):
            s = socket.create_connection(("127.0.0.1", self.daemon.port))
            s.sendall(head)
            reply = s.recv(65536).decode("latin-1")
            s.close()
            self.assertTrue(reply.startswith(f"HTTP/1.1 {status}"), reply)
            self.assertRegex(reply, r"(?im)^x-request-id: late-1\r$")

    def test_metrics(self):
        self.rest.get("/healthz")
        self.rest.get("/nope")
        self.client.call(search_body())
        r = self.rest.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = r.body.decode()

        def has(pattern):
            self.assertTrue(re.search(pattern, text), f"no {pattern} in /metrics")

        has(r'entitlementd_http_requests_total\{route="/healthz",method="GET",status="200"\} \d+')
        has(r'entitlementd_http_requests_total\{route="not_found",method="GET",status="404"\} \d+')
        has(r'entitlementd_http_request_duration_seconds_bucket\{route="/healthz",method="GET",'
                               r'status="200",le="\+Inf"\} \d+')
        has(r'entitlementd_soap_operations_total\{operation="getEntitlementsQuery",'
                               r'outcome="SUCCESS"\} \d+')
        has(r'entitlementd_jobs_queue\{state="queued"\} \d+')
        has(r"entitlementd_jobs_oldest_age_seconds \d")
        has(r'entitlementd_db_pool_connections\{state="in_use"\} \d+')
        has(r"entitlementd_http_connections \d+")
        has(r'entitlementd_http_workers\{state="standing_by"\} \d+')
        has(r"entitlementd_http_workers_active_max \d+")
        # Every sample line is name{labels} value.
        for line in text.splitlines():
            if line and not line.startswith("#"):
                self.assertTrue(re.match(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$', line), line)

    def test_the_openapi_document_and_the_routes_agree(self):
        served = self.rest.get("/openapi.json")
        self.assertEqual(served.json, openapi())
        self.assertEqual(served.json["openapi"], "3.1.0")
        # Every route of the route table is documented, with its method...
        with open(os.path.join(os.environ.get("ENTITLEMENTD_SOURCE", "."), "service", "rest", "front.c")) as f:
            table = re.findall(r'\{"(GET|POST|PUT|DELETE|PATCH)", "(/[^"]*)", \w+\}', f.read())
        self.assertGreaterEqual(len(table), 11)
        for method, path in table:
            self.assertIn(path, openapi()["paths"], path)
            self.assertIn(method.lower(), openapi()["paths"][path], f"{method} {path}")
        # ...and every documented operation is served (no 404 for an unknown
        # route, no 405).
        documented = [(m.upper(), p) for p, item in openapi()["paths"].items() for m in item
                      if m in ("get", "post", "put", "delete", "patch")]
        self.assertEqual(sorted(documented), sorted(table))
        for method, path in documented:
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            r = self.rest.request(method, concrete, {} if method in ("POST", "PUT") else None, check=False)
            self.assertNotIn(r.status, (405,), (method, path, r))
            if r.status == 404:
                self.assertNotEqual(r.json, {"message": "no resource at this path", "status": 404})
            check_openapi(method, concrete, r.status, r.headers, r.body)


class DatabaseDownTest(DaemonTestCase):
    daemon_env = {"ENTITLEMENTD_DB_CONNECT_TIMEOUT": "1", "ENTITLEMENTD_DB_WAIT_TIMEOUT_MS": "1000"}

    def pg(self, cmd):
        home = os.environ["ENTITLEMENTD_TEST_HOME"]
        root = os.environ["ENTITLEMENTD_SOURCE"]
        subprocess.run([os.path.join(root, "scripts", "pg"), cmd, home], check=True, capture_output=True)

    def test_503_with_retry_after_and_nothing_half_written(self):
        pub = Publisher(self.daemon, admin_user())
        tenant = "down-" + token(6)
        _, tok = api_token(tenant=tenant)
        rest = RestClient(self.daemon)
        self.addCleanup(rest.close)
        # Remembered credentials, so that only the writes need the database.
        self.assertEqual(rest.post(STATUSLOG, status_body(pub.name), headers={"Authorization": pub.auth()},
                                   auth=False).status, 202)
        self.assertEqual(rest.post(DEVICE, report(tenant, "D0"), headers={"Authorization": bearer(tok)},
                                   auth=False).status, 200)
        self.pg("stop")
        try:
            r = rest.post(STATUSLOG, status_body(pub.name, id="while-down"), headers={"Authorization": pub.auth()},
                          auth=False)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.headers["retry-after"], "1")
            r = rest.post(DEVICE, report(tenant, "while-down"), headers={"Authorization": bearer(tok)}, auth=False)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.headers["retry-after"], "1")
            self.assertEqual(r.json["status"]["code"], "503")
            r = rest.get("/readyz")
            self.assertEqual(r.status, 503, r)
            self.assertEqual(rest.get("/healthz").status, 200)
        finally:
            self.pg("start")
        self.assertEqual(psql("SELECT count(*) FROM status_logs WHERE request->>'id' = 'while-down'"), [["0"]])
        self.assertEqual(psql("SELECT count(*) FROM device_reports WHERE device_id = 'while-down'"), [["0"]])
        self.assertEqual(rest.post(STATUSLOG, status_body(pub.name), headers={"Authorization": pub.auth()},
                                   auth=False).status, 202)
        self.assertEqual(rest.get("/readyz").status, 200)


if __name__ == "__main__":
    unittest.main()
