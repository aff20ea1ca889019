"""Every element of every request, mutated one at a time: for each version's
served schema and each of the nine operations, a request holding every
element its schema declares (each once, with a value of its type) is sent
with one element path in turn made xsi:nil, emptied, repeated or removed,
with and without credentials. Every answer must be a SOAP fault or a
statusInfo answer that is valid against that version's schema; only the
read-only operations and a createSimpleEntitlement of an entitlement that
exists with opType CREATE_OR_IGNORE may succeed; the daemon must keep its
pid and answer; and the entitlements, line items and products must be
unchanged at the end.

The daemon runs without ENTITLEMENTD_VALIDATE_XML (as in production), so
that the mutated requests reach the handlers rather than the validator.
TORTURE_VERSIONS (default "1 2 3 4") picks the versions."""
import concurrent.futures
import copy
import os
import threading
import unittest

import requests
from lxml import etree

from harness import PATH, SOAP_ENV, DaemonTestCase, envelope, psql, token
from builders import create_body
from catalog import Catalog
from harness import Client

XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
OPERATIONS = ["upgradeLicenseRequest", "upsellLicenseRequest", "renewLicenseRequest",
              "createSimpleEntitlementRequest", "searchEntitlementRequest", "getEntitlementCountRequest",
              "setEntitlementStateRequest", "setLineItemStateRequest", "deleteEntitlementRequest"]
READ_ONLY = {"searchEntitlementRequest", "getEntitlementCountRequest"}
VALUES = {"string": "x", "boolean": "true", "int": "1", "integer": "1", "long": "1", "short": "1",
          "decimal": "1", "double": "1", "float": "1", "date": "2030-01-01", "dateTime": "2030-01-01T00:00:00Z",
          "nonNegativeInteger": "1", "positiveInteger": "1", "unsignedInt": "1"}
# Enumerations take their first value but where that could change data.
ENUM_CHOICE = {"CreateOrUpdateOperationType": "CREATE_OR_IGNORE"}


class Schema:
    """The served schema of one version: complex types' sequences, simple
    types' enumerations, global elements."""

    def __init__(self, schema_el):
        self.complex, self.simple, self.globals = {}, {}, {}
        for ct in schema_el.findall(f"{{{XSD}}}complexType"):
            self.complex[ct.get("name")] = [(e.get("name"), e.get("type"))
                                            for e in ct.iter(f"{{{XSD}}}element")]
        for st in schema_el.findall(f"{{{XSD}}}simpleType"):
            self.simple[st.get("name")] = [e.get("value") for e in st.iter(f"{{{XSD}}}enumeration")]
        for e in schema_el.findall(f"{{{XSD}}}element"):
            self.globals[e.get("name")] = e.get("type")
        self.xsd = etree.XMLSchema(schema_el)

    def value(self, type_name):
        prefix, _, local = type_name.rpartition(":")
        if local in self.simple:
            return ENUM_CHOICE.get(local) or self.simple[local][0]
        return VALUES.get(local, "x")

    def build(self, ns, name, type_name, stack=()):
        """The element name of type type_name holding every element its
        type declares, each once."""
        el = etree.Element(f"{{{ns}}}{name}")
        local = type_name.rpartition(":")[2]
        if local in self.complex:
            if local in stack:  # a type within itself: stop there
                return el
            for child, child_type in self.complex[local]:
                el.append(self.build(ns, child, child_type, stack + (local,)))
        else:
            el.text = self.value(type_name)
        return el


def served_schema(daemon, v):
    r = requests.get(f"http://127.0.0.1:{daemon.port}{PATH.replace('/v4/', f'/v{v}/')}?wsdl", timeout=30)
    r.raise_for_status()
    return etree.fromstring(r.content).find(f"{{{WSDL_NS}}}types/{{{XSD}}}schema")


def paths(el, prefix=()):
    """Every element below and including el, as index paths."""
    yield prefix
    for i, child in enumerate(el):
        yield from paths(child, prefix + (i,))


def at(root, path):
    el = root
    for i in path:
        el = el[i]
    return el


def mutate(root, path, how):
    """A copy of root with the element at path nil, emptied, repeated or removed."""
    doc = copy.deepcopy(root)
    el = at(doc, path)
    if how == "nil":
        for c in list(el):
            el.remove(c)
        el.text = None
        el.set(f"{{{XSI}}}nil", "true")
    elif how == "empty":
        for c in list(el):
            el.remove(c)
        el.text = None
    elif how == "repeat":
        if el.getparent() is None:
            return None, etree.tostring(doc).decode() * 2  # two operation elements in the Body
        el.addnext(copy.deepcopy(el))
    elif how == "remove":
        if el.getparent() is None:
            return None, ""
        el.getparent().remove(el)
    return doc, None


class TortureTest(DaemonTestCase):
    daemon_env = {"ENTITLEMENTD_VALIDATE_XML": "0"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()
        # The entitlement every createSimpleEntitlement names: it exists, so
        # CREATE_OR_IGNORE leaves it as it is and no opType fails.
        cls.existing = "TORTURE-" + token(8)
        r = Client(cls.daemon, cls.user).call(create_body([{"eid": cls.existing,
                                                             "items": [(cls.existing + "-1", cls.cat.base, 1)]}]))
        assert r.status_text == "SUCCESS", r.body

    def snapshot(self):
        return psql("SELECT md5(string_agg(t, '|' ORDER BY t)) FROM ("
                    " SELECT 'e' || e::text AS t FROM entitlements e UNION ALL"
                    " SELECT 'l' || l::text FROM line_items l UNION ALL"
                    " SELECT 'p' || p::text FROM products p UNION ALL"
                    " SELECT 'r' || r::text FROM product_relationships r) s")

    def requests_of(self, v, schema, ns):
        """(operation, description, body) of every mutation of every operation."""
        for op in OPERATIONS:
            base = schema.build(ns, op, schema.globals[op])
            if op == "createSimpleEntitlementRequest":
                for e in base.iter(f"{{{ns}}}entitlementId"):
                    if e.getparent().tag == f"{{{ns}}}simpleEntitlement":
                        e.find(f"{{{ns}}}id").text = self.existing
            for path in list(paths(base)):
                for how in ("nil", "empty", "repeat", "remove"):
                    doc, text = mutate(base, path, how)
                    body = etree.tostring(doc).decode() if doc is not None else text
                    where = "/".join(etree.QName(at(base, path[:k + 1])).localname for k in range(len(path)))
                    yield op, f"v{v} {op}/{where} {how}", body

    def check_answer(self, v, schema, op, what, creds, r):
        self.assertIn(r.status_code, (200, 401, 500), what)
        doc = etree.fromstring(r.content)  # well-formed, or this raises
        body = doc.find(f"{{{SOAP_ENV}}}Body")
        fault = body.find(f"{{{SOAP_ENV}}}Fault")
        if fault is not None:
            self.assertIn(fault.findtext("faultcode"), ("SOAP-ENV:Client", "SOAP-ENV:Server"), what)
            return "fault"
        self.assertTrue(creds, f"{what}: answered without credentials")
        self.assertEqual(r.status_code, 200, what)
        payload = body[0]
        schema.xsd.assertValid(payload)
        status = payload.findtext(f"{{urn:v{v}.webservices.operations.flexnet.com}}statusInfo/"
                                  f"{{urn:v{v}.webservices.operations.flexnet.com}}status")
        if op not in READ_ONLY and op != "createSimpleEntitlementRequest":
            self.assertIn(status, ("FAILURE",), f"{what}: {r.text[:400]}")
        return status

    def test_every_element_mutated(self):
        before = self.snapshot()
        pid = self.daemon.proc.pid
        versions = [int(x) for x in os.environ.get("TORTURE_VERSIONS", "1 2 3 4").split()]
        local = threading.local()
        url_of = {v: f"http://127.0.0.1:{self.daemon.port}{PATH.replace('/v4/', f'/v{v}/')}" for v in versions}
        auth = (self.user.name, self.user.password)

        def send(job):
            v, op, what, body, creds = job
            if not hasattr(local, "session"):
                local.session = requests.Session()
            data = envelope(body, ns=f"urn:v{v}.webservices.operations.flexnet.com")
            return job, local.session.post(url_of[v], data=data, auth=auth if creds else None, timeout=60,
                                           headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})

        counts = {}
        for v in versions:
            ns = f"urn:v{v}.webservices.operations.flexnet.com"
            schema = Schema(served_schema(self.daemon, v))
            jobs = [(v, op, what, body, creds) for op, what, body in self.requests_of(v, schema, ns)
                    for creds in (True, False)]
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                for (v_, op, what, body, creds), r in pool.map(send, jobs):
                    with self.subTest(what=what, credentials=creds):
                        outcome = self.check_answer(v_, schema, op, what, creds, r)
                        counts[outcome] = counts.get(outcome, 0) + 1
            self.assertEqual(self.daemon.proc.pid, pid)
            self.assertIsNone(self.daemon.proc.poll(), f"the daemon died during v{v}")
        print(f"\nanswers: {sorted(counts.items(), key=lambda kv: str(kv[0]))}")
        self.assertEqual(self.snapshot(), before)
        # Still answering.
        self.assertEqual(Client(self.daemon, self.user).call(
            create_body([{"eid": "TORTURE-AFTER-" + token(6), "items": [("TA-" + token(8), self.cat.base, 1)]}])
        ).status_text, "SUCCESS")


if __name__ == "__main__":
    unittest.main()
