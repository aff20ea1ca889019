"""Every answer is well-formed, whatever text a request holds: a property
test. Values are built from random Unicode (every plane, combining marks
on their own and after a base, U+FFFD, XML's and JSON's special characters,
now and then a character XML cannot carry, up to long strings) and put, one
request at a time, in each field whose value an answer or a log line may
quote: identifiers, product names and versions, integers, dates, attribute
names, search values, duplicate ids; for REST the JSON fields, the JSON text
itself, the path segments and the Idempotency-Key. Every SOAP answer must
parse as XML and, unless it is a fault, validate against our schema;
every REST answer must parse as JSON and match the OpenAPI document. The
daemon runs without ENTITLEMENTD_VALIDATE_XML, as in production.

WELLFORMED_ROUNDS (default 100) values per field; WELLFORMED_SEED picks
the random sequence (printed on failure)."""
import json
import os
import random
import unittest
import urllib.parse
from xml.sax.saxutils import escape

from lxml import etree

from builders import (attributes_xml, change_item_xml, create_body, create_full_body, delete_body,
                      entitlement_full_xml, lifecycle_body, line_item_full_xml, renew_body, renew_item_xml,
                      search_body, set_entitlement_state_body, simple_query, attribute_query)
from catalog import Catalog
from harness import DaemonTestCase, SOAP_ENV, token
from rest import DEVICE, STATUSLOG, RestClient, api_token, bearer

ROUNDS = int(os.environ.get("WELLFORMED_ROUNDS", "100"))
SEED = int(os.environ.get("WELLFORMED_SEED", str(random.randrange(1 << 30))))

# Ranges to draw from: (first, last) code points.
PLANES = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F),
          (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0xFB00, 0xFFFD),
          (0x10000, 0x1FFFF), (0x1F300, 0x1FAFF), (0x20000, 0x2FFFF), (0x30000, 0xDFFFF), (0xE0000, 0x10FFFD)]
COMBINING = [(0x300, 0x36F), (0x1AB0, 0x1AFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F), (0xFE00, 0xFE0F)]
SPECIAL = list("<>&\"'\\%_;,.#@!~/{}[]=|^()") + ["\uFFFD", "\u2026", "\u200B", "\u200D", "\u2028", "\u00A0", " "]
# XML 1.0 cannot carry these: the guard refuses the request (a fault).
NOT_XML = ["\x00", "\x01", "\x08", "\x1B", "\x7F", "\uFFFE", "\uFFFF"]


def _pick(rng, ranges):
    lo, hi = rng.choice(ranges)
    cp = rng.randint(lo, hi)
    return chr(cp) if not 0xD800 <= cp <= 0xDFFF else "\uFFFD"


def rand_text(rng, allow_not_xml=True):
    """A random string: usually short, sometimes near or past 255
    characters, now and then thousands."""
    n = rng.choice([rng.randint(1, 20), rng.randint(1, 80), rng.randint(240, 300), rng.randint(1000, 3000)])
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.55:
            out.append(_pick(rng, PLANES))
        elif r < 0.75:
            out.append(_pick(rng, COMBINING))  # after a base, or on its own at the start
        elif r < 0.97:
            out.append(rng.choice(SPECIAL))
        elif allow_not_xml:
            out.append(rng.choice(NOT_XML))
        else:
            out.append("\uFFFD")
    return "".join(out)


def xml_text(s):
    """s escaped for XML character data; characters XML cannot carry stay
    raw, so the request itself is refused."""
    return escape(s)


class WellFormedSoapTest(DaemonTestCase):
    # As in production: the values reach the handlers, not the validator.
    daemon_env = {"ENTITLEMENTD_VALIDATE_XML": "0"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.catalog = Catalog()
        cls.base = cls.catalog.base
        cls.rng = random.Random(SEED)

    def check(self, body, what, value):
        r = self.client.call(body, validate=False)
        ctx = f"seed {SEED}, field {what}, value {value[:60]!r}: HTTP {r.status} {r.body[:600]!r}"
        self.assertIsNotNone(r.xml, "not well-formed XML: " + ctx)
        self.assertIsNotNone(r.payload, "no SOAP Body payload: " + ctx)
        r.body.decode("utf-8")  # strict: raises on anything that is not UTF-8
        if r.is_fault:
            self.assertTrue(r.faultstring, ctx)
        else:
            try:
                from harness import schema
                schema().assertValid(r.payload)
            except etree.DocumentInvalid as e:
                self.fail(f"not valid against the schema ({e}): {ctx}")
        return r

    def fields(self):
        """(name, function of a value giving a request body)."""
        b = self.base
        eid, aid = "E-" + token(8), "A-" + token(8)
        return [
            ("entitlementId", lambda v: create_body([{"eid": v, "items": [("A-" + token(8), b, 1)]}])),
            ("activationId", lambda v: create_body([{"eid": "E-" + token(8), "items": [(v, b, 1)]}])),
            ("product name", lambda v: create_body([{"eid": "E-" + token(8), "items": [("A-" + token(8), (v, "1.0"), 1)]}])),
            ("product version", lambda v: create_body([{"eid": "E-" + token(8), "items": [("A-" + token(8), (b[0], v), 1)]}])),
            ("numberOfCopies", lambda v: create_body([{"eid": "E-" + token(8), "items": [("A-" + token(8), b, xml_text(v))]}])),
            ("startDate", lambda v: create_body([{"eid": "E-" + token(8), "items": [("A-" + token(8), b, 1, {"start": v})]}])),
            ("soldTo", lambda v: create_body([{"eid": "E-" + token(8), "sold_to": v, "items": [("A-" + token(8), b, 1)]}])),
            ("duplicate activationId", lambda v: create_body([{"eid": "E-" + token(8), "items": [(v, b, 1), (v, b, 1)]}])),
            ("attributeName", lambda v: create_full_body(entitlement_full_xml(
                "E-" + token(8), line_item_full_xml("lineItems", "A-" + token(8), b, 1),
                attributes=attributes_xml("entitlementAttributes", [(v, {"stringValue": "x"})])))),
            ("attribute dateValue", lambda v: create_full_body(entitlement_full_xml(
                "E-" + token(8), line_item_full_xml("lineItems", "A-" + token(8), b, 1),
                attributes=attributes_xml("entitlementAttributes", [("D", {"dateValue": v})])))),
            ("upgrade parent activationId", lambda v: lifecycle_body("upgradeLicense", [
                {"items": [change_item_xml(v, "A-" + token(8), b)]}])),
            ("upgrade parent entitlementId", lambda v: lifecycle_body("upgradeLicense", [
                {"ent": v, "items": [change_item_xml(aid, "A-" + token(8), b)]}])),
            ("upgrade new activationId", lambda v: lifecycle_body("upgradeLicense", [
                {"items": [change_item_xml(aid, v, b)]}])),
            ("renew numDuration", lambda v: renew_body([{"items": [renew_item_xml(aid, term=(xml_text(v), "DAYS"))]}])),
            ("renew expirationDate", lambda v: renew_body([{"items": [renew_item_xml(aid, expiration=v)]}])),
            ("search entitlementId", lambda v: search_body(simple_query("entitlementId", v))),
            ("search attribute", lambda v: search_body(attribute_query([(v, v, "EQUALS")]))),
            ("setEntitlementState", lambda v: set_entitlement_state_body([(v, "DEPLOYED")])),
            ("deleteEntitlement", lambda v: delete_body([v])),
        ]

    def test_every_answer_parses_and_validates(self):
        for what, build in self.fields():
            for _ in range(ROUNDS):
                v = rand_text(self.rng)
                self.check(build(v), what, v)
        # The daemon is the one that started, and still answers.
        self.assertIsNone(self.daemon.proc.poll())


class WellFormedRestTest(DaemonTestCase):
    daemon_env = {"ENTITLEMENTD_VALIDATE_XML": "0"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tenant = "tenant-" + token(8)
        _, tok = api_token(tenant=cls.tenant)
        cls.auth = bearer(tok)
        cls.rng = random.Random(SEED + 1)

    def setUp(self):
        super().setUp()
        self.rest = RestClient(self.daemon, self.auth)

    def tearDown(self):
        self.rest.close()
        super().tearDown()

    def send(self, what, value, method, path, body=None, headers=None, raw=False):
        try:
            r = self.rest.request(method, path, body, headers=headers, raw=raw)
        except AssertionError as e:
            self.fail(f"seed {SEED}, {what}, value {value[:60]!r}: {e}")
        ctx = f"seed {SEED}, {what}, value {value[:60]!r}: {r!r}"
        if r.status != 204 and method != "HEAD":
            self.assertIsNotNone(r.json, "not JSON: " + ctx)
        return r

    def report(self, device="dev-1", session="s-1", node="ECU1", code="0", message="m"):
        return {"header": {"protocol": {"name": "Status", "version": "4.0.0", "type": "REQUEST"},
                           "tenantId": self.tenant, "deviceId": device, "sourceId": "ENDPOINT", "sessionId": session},
                "body": {"nodes": [{"id": node, "status": {"message": message, "timestamp": 1700000000000,
                                                           "code": code}}]}}

    def test_every_answer_parses_and_matches_the_document(self):
        rng = self.rng
        for _ in range(ROUNDS):
            v = rand_text(rng, allow_not_xml=True)  # JSON escapes control characters
            for field in ("device", "session", "node", "code", "message"):
                self.send(f"device report {field}", v, "POST", DEVICE, self.report(**{field: v}))
            self.send("device report tenantId", v, "POST", DEVICE, dict(self.report(), header=dict(
                self.report()["header"], tenantId=v)))
            # Unknown keys and values of the wrong type, named in the error.
            self.send("device report key", v, "POST", DEVICE, dict(self.report(), **{v: 1}))
            self.send("status log publisherName", v, "POST", STATUSLOG, {"publisherName": v})
            # The JSON text itself: a parse error names what it found.
            blob = v.encode("utf-8", "surrogatepass")
            cut = blob[:rng.randint(0, len(blob))]
            for text in (b'{"x": ' + cut, cut, b'{"' + cut + b'": }', bytes(rng.getrandbits(8) for _ in range(40))):
                self.send("JSON text", repr(text[:40]), "POST", DEVICE, text, raw=True)
            seg = urllib.parse.quote(v.encode("utf-8", "surrogatepass"), safe="")
            self.send("device path", v, "GET", f"{DEVICE}/tenants/{self.tenant}/devices/{seg}")
            self.send("tenant path", v, "GET", f"{DEVICE}/tenants/{seg}/devices/d")
            key = "".join(c if 0x20 < ord(c) < 0x7F else "%" for c in v)[:300]
            self.send("Idempotency-Key", key, "POST", DEVICE, self.report(), headers={"Idempotency-Key": key})
        self.assertIsNone(self.daemon.proc.poll())


if __name__ == "__main__":
    unittest.main()
