"""The daemon under valgrind memcheck: a mix of good and bad requests, then
SIGTERM; no memory errors and nothing leaked."""
import os
import shutil
import socket
import time
import unittest

from builders import (attribute_query, attributes_xml, change_item_xml, create_body, create_full_body,
                      entitlement_full_xml, lifecycle_body, line_item_full_xml, renew_body, renew_item_xml,
                      search_body)
from catalog import Catalog
from harness import Client, Daemon, envelope, make_user, token
from rest import (DEVICE, KEY_PATH, STATUSLOG, Publisher, RestClient, admin_user, api_token, bearer, poll_until_done,
                  status_body)
from test_devices import report


@unittest.skipUnless(shutil.which("valgrind"), "valgrind not installed")
@unittest.skipIf(os.environ.get("ENTITLEMENTD_SANITIZED") == "1", "valgrind and ASan do not mix")
class ValgrindTest(unittest.TestCase):
    def test_no_errors_and_no_leaks(self):
        vg = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
              "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99"]
        d = Daemon(wrapper=vg, ENTITLEMENTD_WORKERS=2, ENTITLEMENTD_DB_POOL_SIZE=2).start()
        try:
            cat = Catalog()
            user = make_user()
            c = Client(d, user)
            eid = "V-" + token(10)
            aids = [eid + "-1", eid + "-2"]
            r = c.call(create_body([{"eid": eid, "items": [(a, cat.base, 4) for a in aids]}]))
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            r = c.call(lifecycle_body("upgradeLicense", [
                {"items": [change_item_xml(aids[0], None, cat.upgrade, 2, auto=True, allow=True)]},
                {"items": [change_item_xml("missing-" + token(6), None, cat.upgrade, 1, auto=True)]}]))
            self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
            self.assertEqual(c.call(search_body()).status_text, "SUCCESS")
            # The attributes document: built, stored, inherited, searched,
            # read back; and abandoned half built by a bad integer.
            attrs = {"lineItemAttributes": attributes_xml("lineItemAttributes", [
                         ("S", {"stringValue": "v", "arrayValue": ["a", "b"]}), ("D", {"dateValue": "2027-01-01"})]),
                     "policyAttributes": "<v4:policyAttributes><v4:rehostsPolicy><v4:allowedCount>1</v4:allowedCount>"
                                         "<v4:policyTerm><v4:duration>1</v4:duration><v4:durationUnit>DAYS"
                                         "</v4:durationUnit></v4:policyTerm></v4:rehostsPolicy></v4:policyAttributes>",
                     "expirationDate": "<v4:expirationDate>2027-01-31</v4:expirationDate>"}
            ent_attrs = attributes_xml("entitlementAttributes", [("Region", {"stringValue": "EMEA"})])
            r = c.call(create_full_body([entitlement_full_xml(eid + "-A", line_item_full_xml(
                "lineItems", eid + "-A1", cat.base, 4, attrs), None, ent_attrs)]))
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            r = c.call(renew_body([{"items": [renew_item_xml(eid + "-A1", auto=True, count=1, term=(1, "YEARS"))]}]))
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            r = c.call(search_body(attribute_query([("Region", "EM", "STARTS_WITH")])))
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            bad = dict(attrs, lineItemAttributes=attributes_xml("lineItemAttributes", [
                ("S", {"stringValue": "v"}), ("I", {"integerValue": "99999999999999999999"})]))
            r = c.raw(envelope(create_full_body([entitlement_full_xml(eid + "-B", line_item_full_xml(
                "lineItems", eid + "-B1", cat.base, 1, bad), None, ent_attrs)])))
            self.assertIn("not an integer in range", r.faultstring or "", r.body)
            # A v1 client: its request and answer rewritten between its
            # trees and v4's, and an element v1 does not declare refused.
            v1 = Client(d, user, path="/flexnet/services/v1/EntitlementOrderService")
            ns1 = "urn:v1.webservices.operations.flexnet.com"
            partner = ("<v4:channelPartners><v4:channelPartner><v4:tierName>T</v4:tierName><v4:organizationUnit>"
                       "<v4:primaryKeys><v4:name>ACC</v4:name></v4:primaryKeys></v4:organizationUnit>"
                       "</v4:channelPartner></v4:channelPartners>")
            r = v1.raw(envelope(f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId>"
                                f"<v4:id>{eid}-V1</v4:id></v4:entitlementId>{partner}</v4:simpleEntitlement>"
                                "</v4:createSimpleEntitlementRequest>", ns=ns1))
            self.assertIn(b"SUCCESS", r.body)
            r = v1.raw(envelope(search_body(f"<v4:entitlementId><v4:value>{eid}-V1</v4:value><v4:searchType>EQUALS"
                                            "</v4:searchType></v4:entitlementId>"), ns=ns1))
            self.assertIn(b"organizationUnit", r.body)
            r = v1.raw(envelope(search_body("<v4:contactEmail><v4:value>a</v4:value><v4:searchType>EQUALS"
                                            "</v4:searchType></v4:contactEmail>"), ns=ns1))
            self.assertIn("not expected", r.faultstring or "", r.body)
            c = Client(d, user)
            Client(d, None).call(search_body())                      # 401
            c.raw(b"not xml")                                          # parse fault
            c = Client(d, user)
            c.raw(b'<?xml version="1.0"?><!DOCTYPE x []>' + envelope(search_body())[39:])  # DTD
            # Chunked, pipelined, refused and half-sent requests: the framing's
            # buffers, and one still pending when the daemon stops.
            body = envelope(search_body())
            head = ("POST /flexnet/services/v4/EntitlementOrderService HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: {user.basic()}\r\n")
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode() +
                      b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) +
                      (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
            got = b""
            while got.count(b"HTTP/1.1 200") < 2:
                chunk = s.recv(65536)
                self.assertTrue(chunk, got)
                got += chunk
            s.sendall(b"PUT / HTTP/1.1\r\n\r\n")
            s.recv(65536)
            s.close()
            # The REST adapter: keys, JWTs, a status log through its job,
            # device status, bad input, idempotency, operations.
            pub = Publisher(d, admin_user(), kind="EC")
            rest = RestClient(d)
            r = rest.post(STATUSLOG, status_body(pub.name), headers={"Authorization": pub.auth(),
                                                                     "Idempotency-Key": "v-" + token(6)}, auth=False)
            self.assertEqual(r.status, 202, r)
            self.assertEqual(poll_until_done(rest, r.json["url"], pub.auth(), timeout=60).status, 200)
            self.assertEqual(rest.post(STATUSLOG, status_body(pub.name, statusCode="x"),
                                       headers={"Authorization": pub.auth()}, auth=False).status, 400)
            self.assertEqual(rest.post(STATUSLOG, status_body(pub.name), headers={"Authorization": "Bearer a.b.c"},
                                       auth=False).status, 401)
            tenant = "vg-" + token(6)
            _, tok = api_token(tenant=tenant)
            dev = RestClient(d, bearer(tok))
            self.assertEqual(dev.post(DEVICE, report(tenant, "D1")).status, 200)
            self.assertEqual(dev.post(DEVICE, report(tenant, "D1", nodes=[{"id": "x"}, {"id": "x"}])).status, 400)
            self.assertEqual(dev.get(f"{DEVICE}/tenants/{tenant}/devices/D1").status, 200)
            self.assertEqual(dev.get(f"{DEVICE}/tenants/{tenant}/summary").status, 200)
            for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/nope"):
                rest.get(path, check=False)
            self.assertEqual(RestClient(d, admin_user().basic()).request(
                "DELETE", KEY_PATH + "?kid=" + pub.kid).status, 200)
            # An update package built by a job worker, its content streamed
            # whole, read in part, and left unread at SIGTERM.
            owner = RestClient(d, bearer(api_token(user="vg-" + token(6))[1]))
            r = owner.post("/subscriptions/cloud", {"name": "vg", "products": [
                {"name": cat.base[0], "version": cat.base[1]}]})
            self.assertEqual(r.status, 201, r)
            ref, pno = r.json["subscriptionRef"], r.json["subscriptionProducts"][0]["subscriptionProductId"]
            r = owner.post(f"/acquisition_api/v1/subscriptionUpdates/{ref}/1900-01-01?productIds={pno}")
            pkg = r.json["data"]["packageId"]
            deadline = time.time() + 60
            while owner.get(f"/acquisition_api/v1/packages/{pkg}").json["status"] == "PROCESSING":
                self.assertLess(time.time(), deadline)
                time.sleep(0.1)
            content = f"/acquisition_api/v1/packages/{pkg}/content"
            self.assertEqual(len(owner.get(content).json["items"]),
                             owner.get(f"/acquisition_api/v1/packages/{pkg}").json["itemCount"])
            ask = f"GET {content} HTTP/1.1\r\nHost: x\r\nAuthorization: {owner.auth}\r\n\r\n".encode()
            unread = socket.create_connection(("127.0.0.1", d.port))
            unread.sendall(ask)
            part = socket.create_connection(("127.0.0.1", d.port))
            part.sendall(ask)
            part.recv(100)
            part.close()
            pending = socket.create_connection(("127.0.0.1", d.port))
            pending.sendall((head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:50])
        finally:
            rc = d.stop()
        log = d.read_log()
        self.assertEqual(rc, 0, log[-5000:])
        self.assertIn("ERROR SUMMARY: 0 errors", log, log[-5000:])


if __name__ == "__main__":
    unittest.main()
