"""Device status protocol 4.0.0 through the real daemon and PostgreSQL:
both request shapes, a 400 naming the path of every required field missing
or mistyped, tenant-scoped tokens (401, 403), the latest state and the
append-only history (a repeat stored once), the two analytics queries, and
API tokens from entitlementctl. Every response is checked against the
OpenAPI document."""
import copy
import json
import random
import functools
import socket
import threading
import unittest

from harness import DaemonTestCase, ctl, end_backends_while, psql, token
from rest import DEVICE, RestClient, api_token, bearer
from test_http import read_reply


def report(tenant, device, session="s-1", ts=1700000000000, nodes=None, flat=False):
    header = {"protocol": {"name": "Status", "version": "4.0.0", "type": "REQUEST"}, "tenantId": tenant,
              "deviceId": device, "sourceId": "ENDPOINT", "sessionId": session}
    if nodes is None:
        nodes = [
            {"id": "ECU1", "status": {"message": "Idle", "timestamp": ts, "code": "0"},
             "properties": [{"key": "locale", "value": "en_CA"}, {"key": "flag"}],
             "releases": [{"category": "FULL", "version": "3.0.0.0", "revision": 2,
                           "status": {"code": "Complete", "timestamp": ts, "message": "0"},
                           "packages": [{"packageId": "adas.ecu", "version": "2.0.0.0", "checksum": "afoije4w98",
                                         "status": {"message": "Installation Complete", "timestamp": ts,
                                                    "code": "0"}}]}]},
            {"id": "ECU2", "releases": [{"category": "DELTA", "version": "1.1",
                                         "packages": [{"packageId": "p2", "version": "1",
                                                       "status": {"timestamp": ts, "code": "2"}}]}]},
            {"id": "ECU3"},
        ]
    if flat:
        return dict(header, nodes=nodes)
    return {"header": header, "body": {"nodes": nodes}}


class DeviceStatusTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tenant = "tenant-" + token(8)
        cls.token_id, cls.token = api_token(tenant=cls.tenant)

    def setUp(self):
        super().setUp()
        self.rest = RestClient(self.daemon, bearer(self.token))
        self.addCleanup(self.rest.close)

    def reports(self, device):
        return int(psql("SELECT count(*) FROM device_reports WHERE tenant = :'v1' AND device_id = :'v2'",
                        self.tenant, device)[0][0])

    def raw(self, body, close=False):
        data = json.dumps(body).encode()
        return (f"POST {DEVICE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Length: {len(data)}\r\n"
                + ("Connection: close\r\n" if close else "") + "\r\n").encode() + data

    def test_backends_ended_under_load(self):
        # Backends ended every few milliseconds (as a server shutting down
        # ends them) under 8 clients: every 200 is a stored report, and a
        # group the server ended before its COMMIT runs again on a fresh
        # connection rather than answer 503 (nothing of it was written).
        answers, lock = [], threading.Lock()

        def client(k, stop):
            c = RestClient(self.daemon, bearer(self.token))
            try:
                n = 0
                while not stop.is_set():
                    n += 1
                    device, session = f"K{k}-" + token(6), f"s-{n}"
                    r = c.post(DEVICE, report(self.tenant, device, session=session), check=False)
                    with lock:
                        answers.append((device, r.status))
            finally:
                c.close()

        kills = end_backends_while(3, [functools.partial(client, k) for k in range(8)])
        stored = {row[0] for row in psql("SELECT device_id FROM device_reports WHERE tenant = :'v1' "
                                         "AND device_id LIKE 'K%'", self.tenant)}
        ok = [d for d, s in answers if s == 200]
        self.assertEqual([d for d in ok if d not in stored], [])
        self.assertEqual({s for _, s in answers} - {200, 503}, set(), answers)
        unavailable = len(answers) - len(ok)
        self.assertGreater(kills, 0)
        self.assertLessEqual(unavailable, max(3, len(answers) // 100),
                             f"{unavailable} of {len(answers)} answered 503, {kills} backends ended")

    def test_pipelined_reports_are_answered_in_order_and_close_when_asked(self):
        # A report's answer waits for its statement group, not in the worker
        # that read it: what the client pipelined after it is still served
        # after it, in order, and "Connection: close" closes after the answer.
        devices = ["P-" + token(8) for _ in range(6)]
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        self.addCleanup(s.close)
        s.sendall(b"".join(self.raw(report(self.tenant, d), close=(i == len(devices) - 1))
                           for i, d in enumerate(devices)))
        rest = b""
        for i, d in enumerate(devices):
            reply, rest = read_reply(s, buf=rest)
            self.assertEqual(reply.status, 200, reply.body)
            self.assertEqual(json.loads(reply.body)["deviceId"], d)
            self.assertEqual(reply.headers["connection"], "close" if i == len(devices) - 1 else "keep-alive")
            self.assertEqual(self.reports(d), 1)
        s.settimeout(5)
        self.assertEqual(rest + s.recv(100), b"")

    def test_report_latest_state_and_history(self):
        device = "VIN-" + token(8)
        r = self.rest.post(DEVICE, report(self.tenant, device))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"protocol": {"name": "Status", "version": "4.0.0", "type": "RESPONSE"},
                                  "tenantId": self.tenant, "deviceId": device, "sessionId": "s-1",
                                  "status": {"code": "0", "message": "Success"}})
        g = self.rest.get(f"{DEVICE}/tenants/{self.tenant}/devices/{device}")
        self.assertEqual(g.status, 200, g)
        self.assertEqual([n["id"] for n in g.json["nodes"]], ["ECU1", "ECU2", "ECU3"])
        ecu1 = g.json["nodes"][0]
        self.assertEqual(ecu1["releases"][0]["revision"], 2)
        self.assertEqual(g.json["nodes"][1]["releases"][0]["revision"], 0)  # the default
        self.assertEqual(ecu1["properties"], [{"key": "locale", "value": "en_CA"}, {"key": "flag"}])
        self.assertEqual(g.json["reportedAt"], 1700000000000)
        # The same report again (same session and timestamps): stored once.
        self.assertEqual(self.rest.post(DEVICE, report(self.tenant, device)).status, 200)
        self.assertEqual(self.reports(device), 1)
        # A newer report (flat shape) naming one node: that node's state is
        # the newer one, the others keep theirs (the latest state is per
        # node); the history keeps both reports.
        newer = report(self.tenant, device, session="s-2", ts=1700000005000, flat=True,
                       nodes=[{"id": "ECU1", "status": {"message": "Busy", "timestamp": 1700000005000, "code": "1"}}])
        self.assertEqual(self.rest.post(DEVICE, newer).status, 200)
        self.assertEqual(self.reports(device), 2)
        g = self.rest.get(f"{DEVICE}/tenants/{self.tenant}/devices/{device}")
        self.assertEqual([n["id"] for n in g.json["nodes"]], ["ECU1", "ECU2", "ECU3"])
        self.assertEqual(g.json["nodes"][0]["status"]["message"], "Busy")
        self.assertEqual(g.json["nodes"][1]["releases"][0]["version"], "1.1")
        self.assertEqual(g.json["sessionId"], "s-2")
        self.assertEqual(g.json["reportedAt"], 1700000005000)
        # An older report arriving late is kept in the history; of its
        # nodes, only one no newer report named becomes latest state.
        late = report(self.tenant, device, session="s-0", ts=1600000000000,
                      nodes=[{"id": "ECU1", "status": {"message": "Old", "timestamp": 1600000000000, "code": "0"}},
                             {"id": "ECU9", "status": {"message": "Late", "timestamp": 1600000000000, "code": "0"}}])
        self.assertEqual(self.rest.post(DEVICE, late).status, 200)
        self.assertEqual(self.reports(device), 3)
        g = self.rest.get(f"{DEVICE}/tenants/{self.tenant}/devices/{device}")
        self.assertEqual(g.json["sessionId"], "s-2")
        self.assertEqual(g.json["reportedAt"], 1700000005000)
        self.assertEqual([(n["id"], n.get("status", {}).get("message")) for n in g.json["nodes"]],
                         [("ECU1", "Busy"), ("ECU2", None), ("ECU3", None), ("ECU9", "Late")])
        # A newer one again, naming another node: each node from its own newest report.
        newest = report(self.tenant, device, session="s-3", ts=1700000009000,
                        nodes=[{"id": "ECU2", "status": {"message": "Now", "timestamp": 1700000009000, "code": "0"}}])
        self.assertEqual(self.rest.post(DEVICE, newest).status, 200)
        g = self.rest.get(f"{DEVICE}/tenants/{self.tenant}/devices/{device}")
        self.assertEqual([(n["id"], n.get("status", {}).get("message")) for n in g.json["nodes"]],
                         [("ECU1", "Busy"), ("ECU2", "Now"), ("ECU3", None), ("ECU9", "Late")])
        self.assertEqual((g.json["sessionId"], g.json["reportedAt"]), ("s-3", 1700000009000))
        self.assertEqual(self.rest.get(f"{DEVICE}/tenants/{self.tenant}/devices/nope-{token(6)}").status, 404)

    def test_concurrent_reports_of_one_device_leave_the_newest_per_node(self):
        # Without grouping every report has a transaction of its own: the
        # most overlap.
        import threading
        from harness import Daemon
        alone = Daemon(ENTITLEMENTD_COMMIT_GROUPS=0, ENTITLEMENTD_WORKERS=12, ENTITLEMENTD_DB_POOL_SIZE=12).start()
        self.addCleanup(lambda: self.assertEqual(alone.stop(), 0))
        for rnd in range(3):
            self.concurrent_reports(alone, rnd)
        self.concurrent_reports(self.daemon, 9)

    def concurrent_reports(self, daemon, rnd):
        import threading
        device = "VIN-" + token(8)
        n = 12
        replies = [None] * n
        barrier = threading.Barrier(n)

        def run(i):
            c = RestClient(daemon, bearer(self.token))
            body = report(self.tenant, device, session=f"s-{i}", ts=1700000000000 + i,
                          nodes=[{"id": f"N{i}", "status": {"message": "m", "timestamp": 1700000000000 + i,
                                                             "code": "0"}},
                                 {"id": "SHARED", "status": {"message": f"from {i}", "timestamp": 1700000000000 + i,
                                                             "code": "0"}}])
            barrier.wait()
            replies[i] = c.post(DEVICE, body)
            c.close()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual({r.status for r in replies}, {200})
        # Every node of every report; the one they all name, as the newest
        # report holds it, whatever order they committed in.
        g = self.rest.get(f"{DEVICE}/tenants/{self.tenant}/devices/{device}")
        self.assertEqual([x["id"] for x in g.json["nodes"]], sorted([f"N{i}" for i in range(n)] + ["SHARED"]))
        shared = next(x for x in g.json["nodes"] if x["id"] == "SHARED")
        self.assertEqual(shared["status"]["message"], f"from {n - 1}")
        self.assertEqual(g.json["sessionId"], f"s-{n - 1}")
        self.assertEqual(self.reports(device), n)

    def test_summary(self):
        tenant = "sum-" + token(8)
        _, tok = api_token(tenant=tenant)
        c = RestClient(self.daemon, bearer(tok))
        self.addCleanup(c.close)
        for i in range(3):
            self.assertEqual(c.post(DEVICE, report(tenant, f"D{i}")).status, 200)
        s = c.get(f"{DEVICE}/tenants/{tenant}/summary")
        self.assertEqual(s.status, 200, s)
        self.assertEqual(s.json["devices"], 3)
        self.assertEqual(s.json["releases"], [{"category": "DELTA", "version": "1.1", "devices": 3},
                                              {"category": "FULL", "version": "3.0.0.0", "devices": 3}])
        self.assertEqual(s.json["packageStatus"], [{"code": "0", "devices": 3}, {"code": "2", "devices": 3}])
        # A newer report naming one node: the others' releases still count.
        self.assertEqual(c.post(DEVICE, report(tenant, "D0", session="s-9", ts=1700000009000,
                                               nodes=[{"id": "ECU3"}])).status, 200)
        self.assertEqual(c.get(f"{DEVICE}/tenants/{tenant}/summary").json, s.json)

    def test_a_device_of_many_nodes_reads_back_in_one_pass(self):
        # Reports of 40,000 and 20,000 nodes (under the 1 MiB cap): each
        # node's state is found by a hash of the ids, not by comparing every
        # node with every id, which took PostgreSQL 17 s for one such
        # report. The reads get 8 s, the old way's quarter.
        tenant = "many-" + token(8)
        _, tok = api_token(tenant=tenant)
        c = RestClient(self.daemon, bearer(tok))
        self.addCleanup(c.close)
        first = [{"id": f"N{i}"} for i in range(40000)]
        first[0] = {"id": "N0", "releases": [{"category": "FULL", "version": "1"}]}
        self.assertEqual(c.post(DEVICE, report(tenant, "D", nodes=first)).status, 200)
        second = [{"id": f"N{i}"} for i in range(20000)]
        second[0] = {"id": "N0", "releases": [{"category": "FULL", "version": "2"}]}
        self.assertEqual(c.post(DEVICE, report(tenant, "D", session="s-2", ts=1700000009000, nodes=second)).status,
                         200)
        reader = RestClient(self.daemon, bearer(tok))
        reader.conn.timeout = 8
        self.addCleanup(reader.close)
        g = reader.get(f"{DEVICE}/tenants/{tenant}/devices/D")
        self.assertEqual(g.status, 200, g)
        self.assertEqual(len(g.json["nodes"]), 40000)
        self.assertEqual(g.json["nodes"][0], {"id": "N0", "releases": [{"category": "FULL", "version": "2",
                                                                        "revision": 0}]})
        s = reader.get(f"{DEVICE}/tenants/{tenant}/summary")
        self.assertEqual(s.status, 200, s)
        self.assertEqual(s.json["releases"], [{"category": "FULL", "version": "2", "devices": 1}])

    def test_tokens_are_scoped_to_a_tenant(self):
        device = "VIN-" + token(8)
        other_tenant = "other-" + token(8)
        _, other = api_token(tenant=other_tenant)
        _, user_token = api_token(user="integration-" + token(6))
        for auth, status in ((None, 401), ("Bearer nope", 401), ("Bearer etd_" + "A" * 43, 401),
                             (bearer(other), 403), (bearer(user_token), 403)):
            with self.subTest(auth=str(auth)[:20]):
                r = self.rest.post(DEVICE, report(self.tenant, device), headers={"Authorization": auth}, auth=False)
                self.assertEqual(r.status, status, r)
                self.assertEqual(r.json["protocol"]["type"], "RESPONSE")
                self.assertNotEqual(r.json["status"]["code"], "0")
                g = self.rest.get(f"{DEVICE}/tenants/{self.tenant}/summary", headers={"Authorization": auth},
                                  auth=False)
                self.assertEqual(g.status, status, g)
        self.assertEqual(self.reports(device), 0)
        # Revoked: refused at once.
        tid, tok = api_token(tenant=self.tenant)
        c = RestClient(self.daemon, bearer(tok))
        self.addCleanup(c.close)
        self.assertEqual(c.post(DEVICE, report(self.tenant, device)).status, 200)
        self.assertIn(f"token {tid} revoked", ctl("token", "revoke", str(tid)).stdout)
        self.assertEqual(c.post(DEVICE, report(self.tenant, device, ts=1800000000000)).status, 401)
        self.assertEqual(c.get(f"{DEVICE}/tenants/{self.tenant}/summary").status, 401)
        self.assertEqual(self.reports(device), 1)
        listing = ctl("token", "list").stdout
        self.assertRegex(listing, rf"(?m)^{tid}\s+tenant\s+{self.tenant}\s+\S+\s+\d{{4}}-")
        self.assertNotIn(tok, listing)
        self.assertEqual(psql("SELECT count(*) FROM api_tokens WHERE encode(token_hash, 'escape') LIKE :'v1'",
                              "%" + tok[4:20] + "%"), [["0"]])  # only the hash is kept
        self.assertNotIn(tok, self.daemon.read_log())

    def test_every_required_field_missing_or_mistyped_is_named(self):
        device = "VIN-" + token(8)
        base = report(self.tenant, device)
        h, n0 = ("header",), ("body", "nodes", 0)
        rel, pkg = n0 + ("releases", 0), n0 + ("releases", 0, "packages", 0)
        required = {
            h + ("protocol",): "protocol", h + ("protocol", "name"): "protocol.name",
            h + ("protocol", "version"): "protocol.version", h + ("protocol", "type"): "protocol.type",
            h + ("tenantId",): "tenantId", h + ("deviceId",): "deviceId", h + ("sourceId",): "sourceId",
            h + ("sessionId",): "sessionId", ("body", "nodes"): "nodes", n0 + ("id",): "nodes[0].id",
            n0 + ("status", "message"): "nodes[0].status.message",
            n0 + ("status", "timestamp"): "nodes[0].status.timestamp",
            n0 + ("status", "code"): "nodes[0].status.code",
            n0 + ("properties", 0, "key"): "nodes[0].properties[0].key",
            rel + ("category",): "nodes[0].releases[0].category", rel + ("version",): "nodes[0].releases[0].version",
            rel + ("status", "code"): "nodes[0].releases[0].status.code",
            rel + ("status", "timestamp"): "nodes[0].releases[0].status.timestamp",
            rel + ("status", "message"): "nodes[0].releases[0].status.message",
            pkg + ("packageId",): "nodes[0].releases[0].packages[0].packageId",
            pkg + ("version",): "nodes[0].releases[0].packages[0].version",
            pkg + ("status", "timestamp"): "nodes[0].releases[0].packages[0].status.timestamp",
        }
        optional_typed = {
            n0 + ("properties", 0, "value"): "nodes[0].properties[0].value",
            rel + ("revision",): "nodes[0].releases[0].revision",
            pkg + ("checksum",): "nodes[0].releases[0].packages[0].checksum",
            pkg + ("status", "code"): "nodes[0].releases[0].packages[0].status.code",
            pkg + ("status", "message"): "nodes[0].releases[0].packages[0].status.message",
            n0 + ("status",): "nodes[0].status", n0 + ("releases",): "nodes[0].releases",
            n0 + ("properties",): "nodes[0].properties", rel + ("packages",): "nodes[0].releases[0].packages",
        }

        def at(doc, path):
            for p in path[:-1]:
                doc = doc[p]
            return doc, path[-1]

        def wrong(value):
            return "x" if not isinstance(value, str) else 7

        for path, name in required.items():
            with self.subTest(missing=name):
                doc = copy.deepcopy(base)
                parent, key = at(doc, path)
                del parent[key]
                r = self.rest.post(DEVICE, doc)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["status"]["message"], f"{name}: required")
                self.assertNotEqual(r.json["status"]["code"], "0")
        # Without its body a report still names itself: the header's ids are
        # echoed as in every other answer.
        doc = copy.deepcopy(base)
        del doc["body"]
        r = self.rest.post(DEVICE, doc)
        self.assertEqual((r.status, r.json["status"]["message"]), (400, "body: required"), r)
        self.assertEqual((r.json["tenantId"], r.json["deviceId"]), (self.tenant, device), r.json)
        for path, name in list(required.items()) + list(optional_typed.items()):
            with self.subTest(mistyped=name):
                doc = copy.deepcopy(base)
                parent, key = at(doc, path)
                parent[key] = wrong(parent[key])
                r = self.rest.post(DEVICE, doc)
                self.assertEqual(r.status, 400, r)
                self.assertTrue(r.json["status"]["message"].startswith(f"{name}: "), r.json)
        more = [
            (("body", "nodes", 1, "id"), "ECU1", "nodes[1].id: the same as nodes[0].id"),
            (h + ("protocol", "version"), "3.0.0", "protocol.version: must be 4.0.0"),
            (h + ("deviceId",), "d" * 256, "deviceId: longer than 255 characters (256 given)"),
            (h + ("deviceId",), "", "deviceId: must not be empty"),
            (n0 + ("status", "timestamp"), 1.5, "nodes[0].status.timestamp: must be an integer"),
            (n0 + ("status", "timestamp"), "5734010100", "nodes[0].status.timestamp: must be an integer"),
            (rel + ("revision",), -1, "nodes[0].releases[0].revision: must be between 0 and 2147483647"),
            (n0 + ("status", "timestamp"), 2 ** 64,
             "nodes[0].status.timestamp: must be an integer of at most 64 bits"),
        ]
        for path, value, text in more:
            with self.subTest(text=text):
                doc = copy.deepcopy(base)
                parent, key = at(doc, path)
                parent[key] = value
                r = self.rest.post(DEVICE, doc)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["status"]["message"], text)
        # Malformed JSON is named by the field being read where it went
        # wrong: a key given twice deep in the nodes.
        raw = json.dumps(base).replace('"version": "3.0.0.0"', '"version": "3.0.0.0", "version": "3"').encode()
        r = self.rest.request("POST", DEVICE, raw, raw=True)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(r.json["status"]["message"].startswith(
            "nodes[0].releases[0].version: malformed JSON at byte "), r.json)
        # A refusal echoes the ids that were sent as text, whatever field
        # was refused first.
        for path, value in ((h + ("protocol", "version"), "4.0.1"), (h + ("sourceId",), None)):
            with self.subTest(echo=path[-1]):
                doc = copy.deepcopy(base)
                parent, key = at(doc, path)
                if value is None:
                    del parent[key]
                else:
                    parent[key] = value
                r = self.rest.post(DEVICE, doc)
                self.assertEqual(r.status, 400, r)
                hd = doc["header"] if "header" in doc else doc
                self.assertEqual([r.json[k] for k in ("tenantId", "deviceId", "sessionId")],
                                 [hd["tenantId"], hd["deviceId"], hd["sessionId"]])
        self.assertEqual(self.reports(device), 0)
        # Hostile ids are stored and found as they are.
        hostile = ("'; DELETE FROM devices; --" + "ü" * 300)[:255]
        self.assertEqual(self.rest.post(DEVICE, report(self.tenant, hostile)).status, 200)
        from urllib.parse import quote
        g = self.rest.get(f"{DEVICE}/tenants/{self.tenant}/devices/{quote(hostile, safe='')}")
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json["deviceId"], hostile)
        # A report's identifiers are one index entry: two ids of 255
        # characters of 4 bytes each beside the tenant (255 bytes at most, as
        # entitlementctl takes it) fit. (Characters that do not repeat:
        # PostgreSQL compresses index entries.)
        rng = random.Random()

        def wide(n):
            return "".join(chr(rng.randrange(0x10000, 0x40000)) for _ in range(n))

        tenant, dev = "t" * 255, wide(255)
        self.assertNotEqual(ctl("token", "add", "--tenant", tenant + "t", check=False).returncode, 0)
        _, tok = api_token(tenant=tenant)
        client = RestClient(self.daemon, bearer(tok))
        r = client.post(DEVICE, report(tenant, dev, session=wide(255), nodes=[{"id": wide(255)}]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(psql("SELECT count(*) FROM device_reports WHERE tenant = :'v1' AND device_id = :'v2'",
                              tenant, dev), [["1"]])
        client.close()

    def test_the_token_comes_before_the_body(self):
        # A megabyte of nodes without a token is refused before it is read,
        # and one with a token is checked in linear time.
        import time
        nodes = [{"id": f"n{i}"} for i in range(50000)]
        doc = report(self.tenant, "big-" + token(6), nodes=nodes)
        t0 = time.time()
        r = self.rest.post(DEVICE, doc, headers={"Authorization": None}, auth=False)
        self.assertEqual(r.status, 401, r)
        self.assertLess(time.time() - t0, 2)
        nodes.append({"id": "n7"})
        t0 = time.time()
        r = self.rest.post(DEVICE, report(self.tenant, "big-" + token(6), nodes=nodes))
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["status"]["message"], "nodes[50000].id: the same as nodes[7].id")
        self.assertLess(time.time() - t0, 5)
        # Path ids and keys that are not UTF-8.
        self.assertEqual(self.rest.get(f"{DEVICE}/tenants/{self.tenant}/devices/%FF").status, 404)
        r = self.rest.post(DEVICE, report(self.tenant, "d"), headers={"Idempotency-Key": "k\xff"}, check=False)
        self.assertEqual(r.status, 400, r)

    def test_the_http_layers_refusals_have_the_protocols_shape(self):
        # A body over ENTITLEMENTD_MAX_JSON_BYTES (1 MiB) is refused before
        # it is read: in the protocol's shape, the ids unknown.
        doc = report(self.tenant, "huge-" + token(6), nodes=[{"id": "n" + "x" * 1000} for _ in range(1100)])
        r = self.rest.post(DEVICE, doc)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json["protocol"], {"name": "Status", "version": "4.0.0", "type": "RESPONSE"})
        self.assertEqual(r.json["status"]["code"], "413")
        self.assertEqual([r.json[k] for k in ("tenantId", "deviceId", "sessionId")], ["", "", ""])
        self.assertEqual(self.reports(doc["header"]["deviceId"]), 0)

    def test_idempotency_key(self):
        device = "VIN-" + token(8)
        body = report(self.tenant, device)
        key = "k-" + token(8)
        a = self.rest.post(DEVICE, body, headers={"Idempotency-Key": key})
        b = self.rest.post(DEVICE, body, headers={"Idempotency-Key": key})
        self.assertEqual((a.status, b.status), (200, 200))
        self.assertEqual(a.json, b.json)
        self.assertEqual(b.headers.get("idempotent-replayed"), "true")
        c = self.rest.post(DEVICE, report(self.tenant, device, ts=1), headers={"Idempotency-Key": key})
        self.assertEqual(c.status, 409, c)
        self.assertEqual(self.reports(device), 1)


if __name__ == "__main__":
    unittest.main()
