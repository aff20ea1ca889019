"""Subscriptions (the REST adapter's section 2) through the real daemon and
PostgreSQL: creation by the API user of the token, with products numbered
in order and a webhook whose secret is stored as its decoded bytes and
never shown or logged; reading it back; who sees and deletes what (owned,
global, another user's, another platform); every field of a bad request
named, with nothing written; 401, 415; and entitlementctl's list.
Every response is checked against the OpenAPI document."""
import base64
import json
import os
import socket
import threading
import unittest

from catalog import Catalog
from harness import DaemonTestCase, ctl, psql, token
from rest import RestClient, api_token, bearer

SECRET = os.urandom(32)
WHSEC = "whsec_" + base64.b64encode(SECRET).decode()


class SubscriptionsTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()
        cls.alice = "alice-" + token(6)
        cls.bob = "bob-" + token(6)
        cls.alice_token = api_token(user=cls.alice)[1]
        cls.bob_token = api_token(user=cls.bob)[1]

    def setUp(self):
        super().setUp()
        self.a = RestClient(self.daemon, bearer(self.alice_token))
        self.b = RestClient(self.daemon, bearer(self.bob_token))

    def tearDown(self):
        self.a.close()
        self.b.close()
        super().tearDown()

    def body(self, **over):
        b = {"name": "Nightly " + token(4), "products": [{"name": self.cat.base[0], "version": self.cat.base[1]},
                                                          {"name": self.cat.upgrade[0], "version": self.cat.upgrade[1]}],
             "webhook": {"url": "https://hooks.example.com/entitlements?x=1", "secret": WHSEC},
             "scheduleMinutes": 60}
        b.update(over)
        return {k: v for k, v in b.items() if v is not ...}

    def count(self):
        return int(psql("SELECT count(*) FROM subscriptions")[0][0])

    def create(self, client=None, platform="cloud", **over):
        r = (client or self.a).post(f"/subscriptions/{platform}", self.body(**over))
        self.assertEqual(r.status, 201, r)
        return r.json["subscriptionRef"]

    def test_create_and_read_back(self):
        r = self.a.post("/subscriptions/cloud", self.body())
        self.assertEqual(r.status, 201, r)
        ref = r.json["subscriptionRef"]
        self.assertEqual(r.headers["location"], f"/subscriptions/cloud/{ref}")
        self.assertEqual(r.json["subscriptionProducts"], [
            {"subscriptionProductId": 1, "name": self.cat.base[0], "version": self.cat.base[1]},
            {"subscriptionProductId": 2, "name": self.cat.upgrade[0], "version": self.cat.upgrade[1]}])
        g = self.a.get(f"/subscriptions/cloud/{ref}")
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json["owner"], self.alice)
        self.assertEqual(g.json["platformType"], "cloud")
        self.assertFalse(g.json["global"])
        self.assertEqual(g.json["webhook"], {"url": "https://hooks.example.com/entitlements?x=1"})
        self.assertEqual(g.json["scheduleMinutes"], 60)
        self.assertEqual(g.json["products"], r.json["subscriptionProducts"])
        # The secret: stored as the HMAC key's bytes, never shown or logged.
        self.assertEqual(psql("SELECT encode(webhook_secret, 'hex') FROM subscriptions WHERE ref = :'v1'", ref),
                         [[SECRET.hex()]])
        self.assertNotIn(WHSEC[6:], g.body.decode())
        self.assertNotIn(WHSEC[6:], self.daemon.read_log())
        # A secret written without its base64 padding is the same bytes.
        for n in (32, 31):
            raw = os.urandom(n)
            unpadded = "whsec_" + base64.b64encode(raw).decode().rstrip("=")
            ref2 = self.create(webhook={"url": "https://hooks.example.com/x", "secret": unpadded})
            self.assertEqual(psql("SELECT encode(webhook_secret, 'hex') FROM subscriptions WHERE ref = :'v1'",
                                  ref2), [[raw.hex()]])
        # Without a webhook or a schedule.
        ref2 = self.create(platform="containers", webhook=..., scheduleMinutes=...)
        g = self.a.get(f"/subscriptions/containers/{ref2}")
        self.assertIsNone(g.json["webhook"])
        self.assertIsNone(g.json["scheduleMinutes"])
        # null is absent, for each optional field.
        ref3 = self.create(webhook=None, scheduleMinutes=None, **{"global": None})
        g = self.a.get(f"/subscriptions/cloud/{ref3}")
        self.assertEqual((g.json["webhook"], g.json["scheduleMinutes"], g.json["global"]), (None, None, False), g)

    def test_who_sees_and_deletes_what(self):
        mine = self.create()
        shared = self.create(**{"global": True})
        # Another user: not the private one, the global one yes.
        self.assertEqual(self.b.get(f"/subscriptions/cloud/{mine}").status, 404)
        g = self.b.get(f"/subscriptions/cloud/{shared}")
        self.assertEqual(g.status, 200)
        # Its webhook's URL (which may carry a token) is the owner's to see.
        self.assertEqual(g.json["webhook"], {"url": None})
        self.assertIsNotNone(self.a.get(f"/subscriptions/cloud/{shared}").json["webhook"]["url"])
        # Another platform's path does not name it.
        self.assertEqual(self.a.get(f"/subscriptions/containers/{mine}").status, 404)
        # Deleting: only the owner.
        r = self.b.request("DELETE", f"/subscriptions/cloud/{mine}")
        self.assertEqual(r.status, 404, r)
        r = self.b.request("DELETE", f"/subscriptions/cloud/{shared}")
        self.assertEqual((r.status, r.json["message"]), (404, "a global subscription is deleted by its owner only"), r)
        self.assertEqual(self.b.get(f"/subscriptions/cloud/{shared}").status, 200)
        for ref in (mine, shared):
            r = self.a.request("DELETE", f"/subscriptions/cloud/{ref}")
            self.assertEqual(r.status, 204, r)
            self.assertEqual(r.body, b"")
            self.assertNotIn("content-length", r.headers)
            self.assertEqual(self.a.get(f"/subscriptions/cloud/{ref}").status, 404)
            self.assertEqual(self.a.request("DELETE", f"/subscriptions/cloud/{ref}").status, 404)
        self.assertEqual(psql("SELECT count(*) FROM subscription_products sp JOIN subscriptions s "
                              "ON s.id = sp.subscription_id WHERE s.ref IN (:'v1', :'v2')", mine, shared), [["0"]])

    def test_bad_requests_name_the_field_and_write_nothing(self):
        b = self.cat.base
        cases = [
            ({"name": ...}, "name: required"),
            ({"name": ""}, "name: must not be empty"),
            ({"name": 7}, "name: must be a string"),
            ({"products": []}, "products: must hold 1 to 100 products"),
            ({"products": [{"name": b[0]}]}, "products[0].version: required"),
            ({"products": [{"name": b[0], "version": b[1]}, "x"]}, "products[1]: must be an object"),
            ({"products": [{"name": b[0], "version": b[1]}, {"name": b[0], "version": b[1]}]},
             "products[1]: the same product as products[0]"),
            ({"products": [{"name": b[0], "version": b[1]}, {"name": "No-" + token(6), "version": "9"}]},
             "products[1]: no product 'No-"),
            ({"webhook": {"url": "ftp://x", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "https://", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "http://127.0.0.1:99999/", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "http://h:0/", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "http://h:/x", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "http://h:8o/", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "http://[::1]:65536/", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "http://[::1/", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "http://user@:80/", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "https://:443/", "secret": WHSEC}}, "webhook.url: must be an http or https URL"),
            ({"webhook": {"url": "https://h/x"}}, "webhook.secret: required"),
            ({"webhook": {"url": "https://h/x", "secret": "whsec_" + base64.b64encode(b"short").decode()}},
             "webhook.secret: must be whsec_ and the base64 of 24 to 64 bytes"),
            ({"webhook": {"url": "https://h/x", "secret": base64.b64encode(SECRET).decode()}},
             "webhook.secret: must be whsec_"),
            ({"scheduleMinutes": 0}, "scheduleMinutes: must be between 1 and 10080"),
            ({"scheduleMinutes": "60"}, "scheduleMinutes: must be an integer"),
            ({"global": "yes"}, "global: must be true or false"),
        ]
        before = self.count()
        for over, want in cases:
            with self.subTest(want=want):
                r = self.a.post("/subscriptions/cloud", self.body(**over))
                self.assertEqual(r.status, 400, r)
                self.assertTrue(r.json["message"].startswith(want), r.json)
                self.assertEqual(r.json["status"], 400)
        for raw, ctype in ((b"[1, 2]", "application/json"), (b"{", "application/json")):
            r = self.a.request("POST", "/subscriptions/cloud", raw, headers={"Content-Type": ctype}, raw=True)
            self.assertEqual(r.status, 400, r)
        r = self.a.request("POST", "/subscriptions/cloud", b"name=x", headers={"Content-Type": "text/plain"}, raw=True)
        self.assertEqual(r.status, 415, r)
        r = self.a.post("/subscriptions/onprem", self.body())
        self.assertEqual((r.status, r.json), (400, {"message": "invalid platformType 'onprem': cloud or containers",
                                                     "status": 400}))
        self.assertEqual(self.a.get("/subscriptions/onprem/x").status, 400)
        self.assertEqual(self.count(), before)

    def test_paths_that_are_not_text_name_nothing_and_a_trigger_body_is_json(self):
        ref = self.create()
        for method, path in (("GET", "/subscriptions/cloud/%FF"), ("GET", "/subscriptions/cloud/%FF/status"),
                             ("GET", "/subscriptions/%C3%28/status"), ("DELETE", "/subscriptions/cloud/%FF"),
                             ("POST", "/subscriptions/cloud/%FF/trigger"), ("GET", "/subscriptions/cloud/a%7Fb"),
                             ("POST", "/subscriptions/cloud%00")):
            with self.subTest(path=path):
                r = self.a.request(method, path)
                self.assertEqual(r.status, 404, r)
        r = self.a.request("POST", f"/subscriptions/cloud/{ref}/trigger", b"<xml>hello</xml>",
                           headers={"Content-Type": "text/xml"}, raw=True)
        self.assertEqual(r.status, 415, r)
        r = self.a.request("POST", f"/subscriptions/cloud/{ref}/trigger", b"{bad", raw=True)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(psql("SELECT count(*) FROM subscription_runs r JOIN subscriptions s ON s.id = "
                              "r.subscription_id WHERE s.ref = :'v1'", ref), [["0"]])
        # A DELETE's body, which it does not read, is JSON too, and a
        # refused one deletes nothing (it was a 204).
        r = self.a.request("DELETE", f"/subscriptions/cloud/{ref}", b"hello", headers={"Content-Type": "text/plain"},
                           raw=True)
        self.assertEqual(r.status, 415, r)
        r = self.a.request("DELETE", f"/subscriptions/cloud/{ref}", b"{bad", raw=True)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.a.get(f"/subscriptions/cloud/{ref}").status, 200)
        # A charset other than UTF-8 is not read as UTF-8.
        r = self.a.request("POST", "/subscriptions/cloud", json.dumps(self.body()).encode(),
                           headers={"Content-Type": "application/json; charset=iso-8859-1"}, raw=True)
        self.assertEqual(r.status, 415, r)
        for charset in ('"UTF-8"', "utf8"):
            r = self.a.request("POST", "/subscriptions/cloud", json.dumps(self.body()).encode(),
                               headers={"Content-Type": f"application/json; charset={charset}"}, raw=True)
            self.assertEqual(r.status, 201, r)
        # jansson's own words stay inside.
        r = self.a.request("POST", "/subscriptions/cloud", b'{"name": "a\\u0000b"}', raw=True)
        self.assertEqual(r.status, 400, r)
        self.assertNotIn("JSON_ALLOW_NUL", r.json["message"])
        self.assertIn("NUL", r.json["message"])

    def test_idempotency_key(self):
        key = "k-" + token(10)
        body = self.body()
        a = self.a.post("/subscriptions/cloud", body, headers={"Idempotency-Key": key})
        self.assertEqual(a.status, 201, a)
        b = self.a.post("/subscriptions/cloud", body, headers={"Idempotency-Key": key})
        self.assertEqual((b.status, b.json, b.headers.get("location")), (201, a.json, a.headers.get("location")))
        self.assertEqual(b.headers.get("idempotent-replayed"), "true")
        self.assertEqual(psql("SELECT count(*) FROM subscriptions WHERE ref = :'v1'", a.json["subscriptionRef"]),
                         [["1"]])
        before = self.count()
        r = self.a.post("/subscriptions/cloud", self.body(), headers={"Idempotency-Key": key})
        self.assertEqual(r.status, 409, r)
        # Another spelling of the same target is the same request (RFC 3986's normalisation).
        for path in ("/subscriptions/%63loud", "/subscriptions/clou%64", "/subscriptions/%63%6C%6f%75%64"):
            r = self.a.post(path, body, headers={"Idempotency-Key": key})
            self.assertEqual((r.status, r.json), (201, a.json), path)
            self.assertEqual(r.headers.get("idempotent-replayed"), "true", path)
        # The same key is another user's own; a refusal keeps nothing.
        self.assertEqual(self.b.post("/subscriptions/cloud", body, headers={"Idempotency-Key": key}).status, 201)
        bad = "k-" + token(10)
        self.assertEqual(self.a.post("/subscriptions/cloud", self.body(name=""), headers={"Idempotency-Key": bad}).status,
                         400)
        self.assertEqual(self.a.post("/subscriptions/cloud", body, headers={"Idempotency-Key": bad}).status, 201)
        self.assertEqual(self.count(), before + 2)
        # Eight at once with one key: one subscription, eight equal answers.
        key = "k-" + token(10)
        results = [None] * 8

        def post(i):
            c = RestClient(self.daemon, bearer(self.alice_token))
            results[i] = c.post("/subscriptions/cloud", body, headers={"Idempotency-Key": key})
            c.close()

        threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
        before = self.count()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual({(r.status, r.json["subscriptionRef"]) for r in results},
                         {(201, results[0].json["subscriptionRef"])}, results)
        self.assertEqual(self.count(), before + 1)
        # A trigger: one run for the key.
        ref = a.json["subscriptionRef"]
        t1 = self.a.post(f"/subscriptions/cloud/{ref}/trigger", headers={"Idempotency-Key": "t-" + key})
        self.assertEqual(t1.status, 202, t1)
        t2 = self.a.post(f"/subscriptions/cloud/{ref}/trigger", headers={"Idempotency-Key": "t-" + key})
        self.assertEqual((t2.status, t2.json), (202, t1.json))
        self.assertEqual(t2.headers.get("idempotent-replayed"), "true")

    def test_a_trigger_without_a_body_or_its_length(self):
        # curl -X POST sends neither Content-Length nor chunked: no body
        # (RFC 9112, 6.3), which is what a trigger takes.
        ref = self.create()
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        s.sendall(f"POST /subscriptions/cloud/{ref}/trigger HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: {bearer(self.alice_token)}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 202 "), reply)
        self.assertIn(b'"runId"', reply)

    def test_concurrent_triggers_share_one_run(self):
        """Eight triggers at once: one run, whose id every answer names (a
        trigger that waited on another's insert answered runId 0)."""
        results, lock, go = [], threading.Lock(), threading.Barrier(8)
        ref = None

        def trigger():
            c = RestClient(self.daemon, bearer(self.alice_token))
            go.wait()
            r = c.post(f"/subscriptions/cloud/{ref}/trigger")
            c.close()
            with lock:
                results.append((r.status, r.json.get("runId")))

        for _ in range(10):
            ref = self.create()  # no run yet; its webhook's host is not reachable: the run stays pending
            results.clear()
            threads = [threading.Thread(target=trigger) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(len(set(results)), 1, results)
            self.assertEqual(results[0][0], 202, results)
            self.assertGreater(results[0][1], 0, results)

    def test_concurrent_deletes_by_the_owner(self):
        """Four DELETEs of one's own subscription at once: one 204, the
        others 404 (one that saw it and found it gone said "a global
        subscription is deleted by its owner only")."""
        results, lock = [], threading.Lock()
        for _ in range(10):
            ref = self.create()
            go = threading.Barrier(4)
            results.clear()

            def delete():
                c = RestClient(self.daemon, bearer(self.alice_token))
                go.wait()
                r = c.request("DELETE", f"/subscriptions/cloud/{ref}")
                c.close()
                with lock:
                    results.append(r.status)

            threads = [threading.Thread(target=delete) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(results), [204, 404, 404, 404], results)

    def test_tokens(self):
        before = self.count()
        anon = RestClient(self.daemon)
        r = anon.post("/subscriptions/cloud", self.body())
        self.assertEqual(r.status, 401, r)
        self.assertIn("bearer", r.headers["www-authenticate"].lower())
        self.assertEqual(r.json["status"], 401)
        self.assertEqual(anon.get("/subscriptions/cloud/sub-x", headers={"Authorization": "Bearer etd_nope"}).status, 401)
        anon.close()
        tenant = RestClient(self.daemon, bearer(api_token(tenant="t-" + token(6))[1]))
        # A device reporter's token is no API user's: authentication failed,
        # as the vendor's list of answers has it (no 403 there).
        for r in (tenant.post("/subscriptions/cloud", self.body()), tenant.get("/subscriptions/cloud/sub-x/status"),
                  tenant.get("/subscriptions/sub-x/status")):
            self.assertEqual(r.status, 401, r)
            self.assertIn("device reporter", r.json["message"])
        tenant.close()
        tid, tok = api_token(user=self.alice)
        c = RestClient(self.daemon, bearer(tok))
        ref = self.create(client=c)
        ctl("token", "revoke", str(tid))
        self.assertEqual(c.get(f"/subscriptions/cloud/{ref}").status, 401)
        c.close()
        self.assertEqual(self.count(), before + 1)

    def test_entitlementctl_lists_them(self):
        ref = self.create(**{"global": True})
        out = ctl("subscription", "list").stdout
        line = next(l for l in out.splitlines() if l.startswith(ref))
        self.assertIn(f"owner {self.alice}  global", line)
        self.assertIn(f"products: {self.cat.base[0]} {self.cat.base[1]}, {self.cat.upgrade[0]} {self.cat.upgrade[1]}",
                      out)
        self.assertNotIn(WHSEC[6:], out)


if __name__ == "__main__":
    unittest.main()
