"""The HTTP/SOAP transport: WSDL serving, faults for requests that cannot be
read, limits, authentication, keep-alive, graceful stop."""
import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

from lxml import etree

from builders import (attributes_xml, change_item_xml, count_body, create_body, create_full_body,
                      entitlement_full_xml, lifecycle_body, search_body, simple_query)
from catalog import Catalog
from harness import (NS, PATH, SOAP_ENV, Client, Daemon, DaemonTestCase, RowLock, User, ctl, envelope, make_user,
                     psql, token)
from test_http import read_reply


class TransportTest(DaemonTestCase):
    def get(self, path, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=10)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, r.getheader("Content-Type"), body

    def assert_client_fault(self, r, text, status=500):
        self.assertEqual(r.status, status, r.body)
        self.assertTrue(r.is_fault, r.body)
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertIn(text, r.faultstring)

    def test_wsdl_is_served_without_credentials_with_the_host_asked(self):
        status, ctype, body = self.get(PATH + "?wsdl", {"Host": "licensing.example.com:8443"})
        self.assertEqual(status, 200)
        self.assertIn("xml", ctype)
        doc = etree.fromstring(body)
        addr = doc.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
        self.assertEqual(addr, "http://licensing.example.com:8443" + PATH)
        ops = {o.get("name") for o in doc.findall(".//{http://schemas.xmlsoap.org/wsdl/}portType/"
                                                     "{http://schemas.xmlsoap.org/wsdl/}operation")}
        self.assertEqual(ops, {"upgradeLicense", "upsellLicense", "renewLicense", "createSimpleEntitlement",
                               "getEntitlementsQuery", "getEntitlementCount", "setEntitlementState",
                               "setLineItemState", "deleteEntitlement"})
        # An absolute-form target's host is the host asked (RFC 9112, 3.2.2).
        status, _, body = self.get("http://public.example:8443" + PATH + "?wsdl", {"Host": "internal:1"})
        self.assertEqual(status, 200)
        addr = etree.fromstring(body).find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
        self.assertEqual(addr, "http://public.example:8443" + PATH)
        # No Host at all (HTTP/1.0): the address connected to, port included.
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        s.sendall(f"GET {PATH}?wsdl HTTP/1.0\r\n\r\n".encode())
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
        s.close()
        addr = etree.fromstring(raw.split(b"\r\n\r\n", 1)[1]).find(
            ".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
        self.assertEqual(addr, f"http://127.0.0.1:{self.daemon.port}" + PATH)
        # A hostile Host header is refused (RFC 9112, 3.2), never echoed.
        status, _, body = self.get(PATH + "?wsdl", {"Host": "evil\"><x"})
        self.assertEqual(status, 400)
        self.assertNotIn(b"evil", body)

    def test_service_list_and_unknown_paths(self):
        status, ctype, body = self.get("/flexnet/services")
        self.assertEqual(status, 200)
        self.assertIn(b"/flexnet/services/v4/EntitlementOrderService?wsdl", body)
        status, _, _ = self.get("/nothing/here")
        self.assertEqual(status, 404)
        r = self.client.call(search_body(), path="/flexnet/services/v9/EntitlementOrderService")
        self.assertEqual(r.status, 404)

    def test_malformed_xml(self):
        r = self.client.raw(envelope(search_body())[:-40])
        self.assert_client_fault(r, "malformed")
        r = Client(self.daemon, self.user).raw(b"<soapenv:Envelope xmlns:soapenv='" + SOAP_ENV.encode() +
                                               b"'><soapenv:Body><oops")
        self.assertEqual(r.faultcode, "SOAP-ENV:Client")
        r = Client(self.daemon, self.user).raw(b"this is not xml at all")
        self.assert_client_fault(r, "not an XML SOAP envelope")
        # A value of the wrong type: a Client fault that names the element.
        body = search_body().replace("<v4:batchSize>100</v4:batchSize>", "<v4:batchSize>many</v4:batchSize>")
        self.assert_client_fault(self.client.raw(envelope(body)), "batchSize")
        bad_bool = search_body("<v4:isBulk>perhaps</v4:isBulk>")
        self.assertEqual(self.client.raw(envelope(bad_bool)).faultcode, "SOAP-ENV:Client")

    def test_missing_required_elements_are_named(self):
        # gSOAP reports a missing required element with the same error as
        # too many repetitions; the schema then says which is missing, and
        # where (it was "a required element is missing or an element occurs
        # too often in <v4:lineItems>").
        cat_item = ("<v4:lineItems><v4:activationId><v4:id>A-{t}</v4:id></v4:activationId>{count}</v4:lineItems>")
        t = token(8)
        upgrade = ("<v4:upgradeLicenseRequest><v4:entitlementData><v4:lineItemData><v4:parentLineItemIdentifier>"
                   "<v4:primaryKeys><v4:activationId>X</v4:activationId></v4:primaryKeys>"
                   "</v4:parentLineItemIdentifier></v4:lineItemData></v4:entitlementData></v4:upgradeLicenseRequest>")
        cases = [
            (f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId><v4:id>E-{t}</v4:id>"
             f"</v4:entitlementId>{cat_item.format(t=t, count='')}</v4:simpleEntitlement>"
             f"</v4:createSimpleEntitlementRequest>", "lineItems", "Expected is one of ( description, product,"),
            ("<v4:searchEntitlementRequest><v4:entitlementSearchCriteria/></v4:searchEntitlementRequest>",
             "searchEntitlementRequest", "Expected is ( batchSize )"),
            ("<v4:setEntitlementStateRequest/>", "setEntitlementStateRequest", "Expected is ( entitlement )"),
            ("<v4:deleteEntitlementRequest></v4:deleteEntitlementRequest>", "deleteEntitlementRequest",
             "Expected is ( entitlement )"),
            ("<v4:createSimpleEntitlementRequest/>", "createSimpleEntitlementRequest",
             "Expected is ( simpleEntitlement )"),
            (upgrade, "lineItemData", "Expected is ( lineItem )"),
        ]
        # The same with the run-time validation on (the tests' default) and
        # off (the daemon's: the schema is then loaded for the first such
        # request).
        lax = Daemon(ENTITLEMENTD_VALIDATE_XML=0).start()
        try:
            for client in (self.client, Client(lax, self.user)):
                self.missing_elements_are_named(client, cases, upgrade)
        finally:
            lax.stop()

    def missing_elements_are_named(self, client, cases, upgrade):
        for body, where, expected in cases:
            with self.subTest(where=where):
                r = client.raw(envelope(body))
                self.assert_client_fault(r, "request does not match the schema: ")
                self.assertIn(f"Element '{where}': Missing child element(s). {expected}", r.faultstring)
                self.assertNotIn("repeated", r.faultstring)
        # An older version's request: the same words, judged as its client
        # sent it also when it was rewritten into v4's trees before gSOAP
        # read it (never a name of v4's, accountUnitName, for v1's
        # organizationUnitName).
        v1, path = "urn:v1.webservices.operations.flexnet.com", "/flexnet/services/v1/EntitlementOrderService"
        r = client.raw(envelope(upgrade, ns=v1), path=path)
        self.assert_client_fault(r, "request does not match the schema: Element 'lineItemData': Missing child")
        for crit in ("<v4:organizationUnitName><v4:value>A</v4:value><v4:searchType>EQUALS</v4:searchType>"
                     "</v4:organizationUnitName>", "<v4:organizationUnitName><v4:value>A</v4:value>"
                                                  "</v4:organizationUnitName>"):
            r = client.raw(envelope("<v4:searchEntitlementRequest><v4:entitlementSearchCriteria>" + crit +
                                    "</v4:entitlementSearchCriteria></v4:searchEntitlementRequest>", ns=v1), path=path)
            self.assert_client_fault(r, "request does not match the schema: Element '")
            self.assertIn("Expected is ( " + ("batchSize" if "searchType" in crit else "searchType") + " )",
                          r.faultstring)
            self.assertNotIn("accountUnit", r.faultstring)

    def test_a_nil_required_element_is_refused(self):
        cat_item = ("<v4:lineItems><v4:activationId><v4:id>A-{t}</v4:id></v4:activationId>{count}</v4:lineItems>")
        t = token(8)
        # A nil required element is refused before gSOAP reads it (test_http).
        nil = '<v4:numberOfCopies xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>'
        r = self.client.raw(envelope(f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId>"
                                     f"<v4:id>E-{t}</v4:id></v4:entitlementId>{cat_item.format(t=t, count=nil)}"
                                     f"</v4:simpleEntitlement></v4:createSimpleEntitlementRequest>"))
        self.assert_client_fault(r, "xsi:nil is not accepted")
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", "E-" + t), [["0"]])

    def test_unknown_paths_get_a_client_fault(self):
        for method, path in (("GET", "/flexnet/services/foo"), ("POST", "/flexnet/services/v5/EntitlementOrderService"),
                             ("GET", "/flexnet/services/v5/EntitlementOrderService?wsdl")):
            with self.subTest(method=method, path=path):
                r = Client(self.daemon, self.user).raw(envelope(search_body()) if method == "POST" else None,
                                                       method=method, path=path)
                self.assertEqual(r.status, 404, r.body)
                # A QName, not gSOAP's "at source" of a request without an envelope.
                self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
                self.assertIn("/flexnet/services/v4/EntitlementOrderService", r.faultstring)
        # The path is judged before the body: a body that is not XML at all
        # posted to no endpoint is a 404 too, not a malformed request.
        for path in ("/flexnet/services/v4/NoSuchService", "/flexnet/services/v5/EntitlementOrderService"):
            with self.subTest(garbage=path):
                r = Client(self.daemon, self.user).raw(b"x", path=path)
                self.assertEqual((r.status, r.faultcode), (404, "SOAP-ENV:Client"), r.body)

    def test_paths_outside_the_soap_front_belong_to_the_rest_adapter(self):
        # The router sends /flexnet/services/... to SOAP and the rest to
        # the REST adapter, which answers an unknown path with a JSON 404.
        r = Client(self.daemon, self.user).raw(envelope(search_body()), path="/foo")
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(json.loads(r.body), {"message": "no resource at this path", "status": 404})
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))

    def test_every_response_carries_a_request_id(self):
        c = Client(self.daemon, self.user)
        ok = c.call(search_body())
        fault = Client(self.daemon, self.user).raw(b"not xml")
        wsdl = Client(self.daemon).raw(None, method="GET", path=PATH + "?wsdl")
        for r in (ok, fault, wsdl):
            self.assertRegex(r.headers.get("X-Request-Id", ""), r"^[0-9a-f]{16}$")
        # The client's own id is kept, and is the one in the daemon's log.
        mine = "trace-" + token(8)
        r = Client(self.daemon, User("nobody-" + token(8), "wrong")).raw(envelope(search_body()),
                                                                         headers={"X-Request-Id": mine})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers.get("X-Request-Id"), mine)
        self.assertIn(f"[{mine}] authentication failed", self.daemon.read_log())
        # One we would not echo (a space, a quote) is replaced by ours.
        r = Client(self.daemon, self.user).raw(envelope(search_body()), headers={"X-Request-Id": 'a "b'})
        self.assertRegex(r.headers.get("X-Request-Id", ""), r"^[0-9a-f]{16}$")

    def test_soap_1_2_envelope_is_refused_before_anything_is_done(self):
        eid = "S12-" + token(8)
        body = (f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId><v4:id>{eid}</v4:id>"
                f"</v4:entitlementId></v4:simpleEntitlement></v4:createSimpleEntitlementRequest>")
        for env_ns in ("http://www.w3.org/2003/05/soap-envelope", "urn:example:not-soap"):
            with self.subTest(env_ns=env_ns):
                r = self.client.raw(envelope(body).replace(SOAP_ENV.encode(), env_ns.encode()),
                                    headers={"Content-Type": "application/soap+xml; charset=utf-8"})
                self.assertEqual(r.status, 500, r.body)
                self.assertTrue(r.is_fault, r.body)  # answered as SOAP 1.1
                self.assertEqual(r.faultcode, "SOAP-ENV:VersionMismatch", r.body)
                self.assertIn("SOAP 1.1", r.faultstring)
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])
        # The same request as SOAP 1.1 is carried out.
        r = self.client.raw(envelope(body))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["1"]])

    def test_doctype_is_refused(self):
        body = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                + envelope(search_body())[len(b'<?xml version="1.0" encoding="UTF-8"?>\n'):])
        self.assert_client_fault(self.client.raw(body), "DTD")

    def test_characters_xml_does_not_allow_are_refused(self):
        # gSOAP would read "E-x&#0;y" as "E-x": a NUL ends its C strings.
        lax = Daemon(ENTITLEMENTD_VALIDATE_XML=0).start()  # libxml2 would refuse them first
        try:
            for ref, cp in (("&#0;", "U+0000"), ("&#x1;", "U+0001"), ("\x02", "U+0002"), ("&#11;", "U+000B")):
                with self.subTest(ref=ref):
                    eid = "E-" + token(8)
                    body = (f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId>"
                            f"<v4:id>{eid}{ref}y</v4:id></v4:entitlementId></v4:simpleEntitlement>"
                            f"</v4:createSimpleEntitlementRequest>")
                    r = Client(lax, self.user).raw(envelope(body))
                    self.assert_client_fault(r, f"character {cp} is not allowed in XML")
                    self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id LIKE :'v1'",
                                          eid + "%"), [["0"]])
            # In a comment or CDATA a reference is text.
            eid = "E-" + token(8)
            body = (f"<v4:createSimpleEntitlementRequest><!-- &#1; --><v4:simpleEntitlement><v4:entitlementId>"
                    f"<v4:id><![CDATA[{eid}]]></v4:id></v4:entitlementId></v4:simpleEntitlement>"
                    f"</v4:createSimpleEntitlementRequest>")
            r = Client(lax, self.user).raw(envelope(body))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["1"]])
        finally:
            self.assertEqual(lax.stop(), 0)

    def test_unknown_operation_and_wrong_namespace(self):
        r = self.client.raw(envelope("<v4:getBulkEntitlementPropertiesRequest/>"))
        self.assert_client_fault(r, "operation not supported")
        r = self.client.raw(envelope(search_body(), ns="urn:example:other"))
        self.assert_client_fault(r, "wrong namespace")

    def test_only_the_four_versions_namespaces_are_the_operations(self):
        # gSOAP takes urn:v*.webservices.operations.flexnet.com, in any case,
        # for the operations' namespace; only v1..v4 are.
        for ns in ("urn:v5.webservices.operations.flexnet.com", "urn:v0.webservices.operations.flexnet.com",
                   "urn:v44.webservices.operations.flexnet.com", "URN:V4.WEBSERVICES.OPERATIONS.FLEXNET.COM"):
            for path in (PATH, PATH.replace("/v4/", "/v1/")):
                with self.subTest(ns=ns, path=path):
                    eid = "E-" + token(10)
                    r = self.client.raw(envelope(create_body([{"eid": eid, "items": []}]), ns=ns), path=path)
                    self.assert_client_fault(r, "wrong namespace")
                    self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid),
                                     [["0"]])
        # Another version's namespace beside the path's own.
        other = ('<v4:getEntitlementCountRequest><v4:queryParams><x:entitlementId '
                 'xmlns:x="urn:v2.webservices.operations.flexnet.com"><x:value>a</x:value>'
                 '<x:searchType>EQUALS</x:searchType></x:entitlementId></v4:queryParams>'
                 '</v4:getEntitlementCountRequest>')
        self.assert_client_fault(self.client.raw(envelope(other)), "another version's namespace")
        # Declared and not used, as a gSOAP client built from several
        # versions' WSDLs declares them all on its envelope: nothing.
        every = " ".join(f'xmlns:ns{k}="urn:v{k}.webservices.operations.flexnet.com"' for k in (1, 2, 3, 4))
        for v in (1, 2, 3, 4):
            with self.subTest(version=v):
                ns = f"urn:v{v}.webservices.operations.flexnet.com"
                body = envelope("<v4:getEntitlementCountRequest><v4:queryParams/></v4:getEntitlementCountRequest>",
                                ns=ns).replace(b"<soapenv:Envelope ", f"<soapenv:Envelope {every} ".encode())
                r = self.client.raw(body, path=PATH.replace("/v4/", f"/v{v}/"))
                self.assertIn(f'xmlns:fnp="{ns}"'.encode(), r.body)
                self.assertIn(b"<fnp:status>SUCCESS</fnp:status>", r.body)

    def test_a_header_that_must_be_understood_and_is_not(self):
        # SOAP 1.1, 4.4.1: faultcode MustUnderstand, and nothing is done.
        eid = "E-" + token(10)
        hdr = ('<x:Trace xmlns:x="urn:example:trace" soapenv:mustUnderstand="1">t</x:Trace>')
        r = self.client.raw(envelope(create_body([{"eid": eid, "items": []}]), header=hdr))
        self.assertEqual(r.status, 500, r.body)
        self.assertEqual(r.faultcode, "SOAP-ENV:MustUnderstand", r.body)
        self.assertIn("mustUnderstand", r.faultstring)
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])
        # Not marked, or marked 0: ignored.
        for mark in ("", ' soapenv:mustUnderstand="0"'):
            hdr = f'<x:Trace xmlns:x="urn:example:trace"{mark}>t</x:Trace>'
            r = self.client.raw(envelope(create_body([{"eid": eid + mark[-2:-1], "items": []}]), header=hdr))
            self.assertEqual(r.status_text, "SUCCESS", r.body)

    def test_faults_never_carry_the_request_header(self):
        # A fault raised while the request is read: the SOAP Header, with
        # its credentials, is not echoed back.
        u = make_user()
        secret = base64.b64encode(u.password.encode()).decode()
        hdr = (f'<fp:UserId xmlns:fp="urn:com.macrovision:flexnet/platform">{u.name}</fp:UserId>'
               f'<fp:UserPassword xmlns:fp="urn:com.macrovision:flexnet/platform">{secret}</fp:UserPassword>')
        bodies = ["<v4:fooRequest/>", "",
                  "<v4:setEntitlementStateRequest><v4:entitlementStateData><v4:entitlementIdentifier>"
                  "<v4:primaryKeys><v4:entitlementId>x</v4:entitlementId></v4:primaryKeys>"
                  "</v4:entitlementIdentifier><v4:stateToSet>X</v4:stateToSet></v4:entitlementStateData>"
                  "</v4:setEntitlementStateRequest>",
                  "<v4:searchEntitlementRequest><v4:entitlementSearchCriteria/></v4:searchEntitlementRequest>"]
        anon = Client(self.daemon, None)
        for body in bodies:
            with self.subTest(body=body[:40]):
                r = anon.raw(envelope(body, header=hdr))
                self.assertTrue(r.is_fault, r.body)
                self.assertNotIn(secret.encode(), r.body)
                self.assertNotIn(b"UserPassword", r.body)

    def test_what_xml_forbids_is_a_fault(self):
        q = count_body(simple_query("entitlementId", "x"))
        bad = [envelope(q).replace(b"<v4:getEntitlementCountRequest>", b'<v4:getEntitlementCountRequest a="1"b="2">'),
               envelope(count_body(simple_query("entitlementId", "a]]>b"))).replace(b"a]]&gt;b", b"a]]>b"),
               envelope(q).replace(b"<v4:getEntitlementCountRequest>", b'<v4:getEntitlementCountRequest a="1" a="2">'),
               envelope(q).replace(b"<soapenv:Envelope ", b'<soapenv:Envelope xmlns:xml="urn:bad" ')]
        for doc in bad:
            with self.subTest(doc=doc[150:260]):
                self.assert_client_fault(self.client.raw(doc), "malformed request")
        # An empty value of a typed element, and text where the operation
        # should be: the fault says so, not gSOAP's error number.
        eid = "E-" + token(8)
        doc = envelope(create_body([{"eid": eid, "items": []}])).replace(b"<v4:autoDeploy>true</v4:autoDeploy>",
                                                                          b"<v4:autoDeploy></v4:autoDeploy>")
        self.assert_client_fault(self.client.raw(doc), "<v4:autoDeploy> is empty")
        self.assert_client_fault(self.client.raw(envelope("hello")), "no operation element")

    def test_elements_inside_text_are_a_fault(self):
        # gSOAP would store an element inside a string's element as text:
        # beside text (mixed content) the guard refuses it, alone the front
        # does; on every version's path, and nothing is written. A '<'
        # written as &lt; or in CDATA is text and stays.
        for path in (PATH, PATH.replace("/v4/", "/v1/")):
            ns = NS if "/v4/" in path else NS.replace("v4", "v1")
            for inner, text in (("a<v4:x>inner</v4:x>b", "both text and elements"),
                                ("<v4:x>inner</v4:x>", "<v4:description> holds an element where text is expected"),
                                ("S<o:x xmlns:o='urn:o'>y</o:x>", "both text and elements")):
                with self.subTest(path=path, inner=inner):
                    eid = "E-" + token(10)
                    doc = envelope(create_body([{"eid": eid, "items": [], "description": "DESC"}]), ns=ns)
                    r = self.client.raw(doc.replace(b"DESC", inner.encode()), path=path)
                    self.assert_client_fault(r, text)
                    self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid),
                                     [["0"]])
            for inner, stored in (("a&lt;x&gt;b", "a<x>b"), ("<![CDATA[<x>y</x>]]>", "<x>y</x>")):
                eid = "E-" + token(10)
                doc = envelope(create_body([{"eid": eid, "items": [], "description": "DESC"}]), ns=ns)
                r = self.client.raw(doc.replace(b"DESC", inner.encode()), path=path)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(psql("SELECT description FROM entitlements WHERE entitlement_id = :'v1'", eid),
                                 [[stored]])

    def test_line_ends_are_stored_as_an_xml_parser_reads_them(self):
        # CR LF and a lone CR are line feeds (XML 1.0, 2.11) on every
        # version's path; &#13; is a carriage return.
        for path in (PATH, PATH.replace("/v4/", "/v1/")):
            with self.subTest(path=path):
                eid = "E-" + token(10)
                doc = envelope(create_body([{"eid": eid, "items": [], "description": "one\r\ntwo\rthreeCRREF"}]),
                               ns=NS if "/v4/" in path else NS.replace("v4", "v1"))
                r = self.client.raw(doc.replace(b"CRREF", b"&#13;"), path=path)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(psql("SELECT description = E'one\\ntwo\\nthree\\r' FROM entitlements "
                                      "WHERE entitlement_id = :'v1'", eid), [["t"]])

    def test_what_a_refused_request_left_unread_never_starts_the_next(self):
        # gSOAP stops reading a body at the first element it refuses, and a
        # keep-alive context reads what it holds unread as the start of its
        # next request unless it drops it on closing. Here the rest of a
        # body sent without credentials is a request of its own, for the
        # only worker's next client: that client's request must be served
        # as itself (found by tests/fuzz/fuzz_soap, crash-leftover-after-fault).
        # (Text beside an element is now refused by the guard before gSOAP
        # reads anything; the test still proves nothing of it is served.)
        eid = "E-" + token(8)
        decl = len(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        inner = envelope(create_full_body([entitlement_full_xml(eid, "")]))[decl:]
        smuggled = (f"\r\nPOST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                    f"Content-Length: {len(inner)}\r\n\r\n{inner.decode()}")
        one = Daemon(ENTITLEMENTD_WORKERS=1).start()
        try:
            r = Client(one).raw(envelope("<v4:getBulkEntitlementPropertiesRequest/>" + smuggled))
            self.assert_client_fault(r, "both text and elements")
            c = Client(one, self.user)
            r = c.call(count_body(simple_query("entitlementId", eid)))
            self.assertEqual(r.payload.tag, f"{{{NS}}}getEntitlementCountResponse", r.body)
            self.assertEqual((r.status_text, r.text("f:count")), ("SUCCESS", "0"), r.body)
            c.close()
        finally:
            self.assertEqual(one.stop(), 0)

    def test_schema_validation_of_requests(self):
        # gSOAP reads elements in any order; the schema (and the daemon with
        # ENTITLEMENTD_VALIDATE_XML=1) does not.
        body = search_body().replace("<v4:entitlementSearchCriteria></v4:entitlementSearchCriteria><v4:batchSize>100</v4:batchSize>",
                                     "<v4:batchSize>100</v4:batchSize><v4:entitlementSearchCriteria></v4:entitlementSearchCriteria>")
        self.assert_client_fault(self.client.raw(envelope(body)), "does not match the schema")
        lax = Daemon(ENTITLEMENTD_VALIDATE_XML=0).start()
        try:
            r = Client(lax, self.user).raw(envelope(body))
            self.assertEqual(r.status, 200, r.body)
        finally:
            self.assertEqual(lax.stop(), 0)

    def test_oversized_body_gets_413(self):
        small = Daemon(ENTITLEMENTD_MAX_BODY_BYTES=4096).start()
        try:
            c = Client(small, self.user)
            r = c.raw(envelope(search_body(simple_query("entitlementId", "x" * 8000))))
            self.assert_client_fault(r, "larger than 4096", status=413)
            c.close()
        finally:
            self.assertEqual(small.stop(), 0)

    def test_nesting_and_repetition_limits(self):
        deep = "<v4:x>" * 100 + "</v4:x>" * 100
        r = self.client.raw(envelope(f"<v4:searchEntitlementRequest>{deep}</v4:searchEntitlementRequest>"))
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        small = Daemon(ENTITLEMENTD_MAX_OCCURS=10).start()
        try:
            c = Client(small, self.user)
            many = "".join(f"<v4:simpleEntitlement><v4:entitlementId><v4:id>E{i}</v4:id></v4:entitlementId>"
                           "</v4:simpleEntitlement>" for i in range(20))
            r = c.raw(envelope(f"<v4:createSimpleEntitlementRequest>{many}</v4:createSimpleEntitlementRequest>"))
            self.assert_client_fault(r, "repeated more than 10")
            # In the Header too, inside an entry gSOAP skips unread (it was
            # served: the limit held only for the arrays gSOAP reads).
            entries = lambda k: '<x:h xmlns:x="urn:x">' + "<x:a/>" * k + "</x:h>"
            r = c.raw(envelope(count_body(), header=entries(11)))
            self.assert_client_fault(r, "an element is repeated more than 10 times: <x:a>")
            r = c.raw(envelope(count_body(), header=entries(10) + entries(10)))
            self.assertEqual(r.status, 200, r.body)
            c.close()
        finally:
            self.assertEqual(small.stop(), 0)

    def test_missing_and_wrong_credentials(self):
        anon = Client(self.daemon, None)
        r = anon.call(search_body())
        self.assert_client_fault(r, "authentication failed", status=401)
        wrong = Client(self.daemon, make_user())
        wrong.user.password = "not-the-password"
        self.assert_client_fault(wrong.call(search_body()), "authentication failed", status=401)
        ghost = Client(self.daemon, make_user())
        ghost.user.name = "nobody-" + token(8)
        self.assert_client_fault(ghost.call(search_body()), "authentication failed", status=401)

    def test_basic_credentials_with_a_nul_byte_are_refused(self):
        u = make_user()
        c = Client(self.daemon, None)

        def basic(raw):
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

        good = f"{u.name}:{u.password}".encode()
        self.assertEqual(c.raw(envelope(search_body()), headers=basic(good)).status, 200)
        # gSOAP's C strings would end the password (or the name) at the NUL.
        for raw in (good + b"\0anything", good + b"\0", u.name.encode() + b"\0x:" + u.password.encode()):
            with self.subTest(raw=raw):
                r = Client(self.daemon, None).raw(envelope(search_body()), headers=basic(raw))
                self.assert_client_fault(r, "authentication failed", status=401)

    def test_user_with_domain_and_header_credentials(self):
        u = make_user()
        c = Client(self.daemon, u)
        u.name = u.name + "##FLEXnet"
        self.assertEqual(c.call(search_body()).status_text, "SUCCESS")
        u.name = u.name.split("##")[0]
        hdr = (f'<fp:UserId xmlns:fp="urn:com.macrovision:flexnet/platform">{u.name}</fp:UserId>'
               f'<fp:UserPassword xmlns:fp="urn:com.macrovision:flexnet/platform">'
               f'{base64.b64encode(u.password.encode()).decode()}</fp:UserPassword>')
        anon = Client(self.daemon, None)
        r = anon.raw(envelope(search_body(), header=hdr))
        self.assertEqual(r.status, 200, r.body)
        hdr_bad = hdr.replace(base64.b64encode(u.password.encode()).decode(), base64.b64encode(b"nope").decode())
        self.assert_client_fault(anon.raw(envelope(search_body(), header=hdr_bad)), "authentication", status=401)
        # MIME encoders' line breaks (Perl's encode_base64, Python's
        # encodebytes: one every 76 characters, and one at the end) are
        # white space, not part of the password.
        long_user = User("u" + token(10), "p" + token(70))
        ctl("user", "add", long_user.name, stdin=long_user.password + "\n")
        for who, text in ((u, base64.encodebytes(u.password.encode()).decode()),
                          (u, " \r\n" + base64.b64encode(u.password.encode()).decode() + "\t"),
                          (long_user, base64.encodebytes(long_user.password.encode()).decode())):
            with self.subTest(text=text):
                self.assertIn("\n", text.strip() if who is long_user else "\n")
                h = (f'<fp:UserId xmlns:fp="urn:com.macrovision:flexnet/platform">{who.name}</fp:UserId>'
                     f'<fp:UserPassword xmlns:fp="urn:com.macrovision:flexnet/platform">{text}</fp:UserPassword>')
                r = anon.raw(envelope(search_body(), header=h))
                self.assertEqual(r.status, 200, r.body)
        # Credentials given twice are not guessed at (gSOAP would read the
        # first and skip the other), whichever of them is right.
        other = f'<fp:UserId xmlns:fp="urn:com.macrovision:flexnet/platform">nobody-{token(6)}</fp:UserId>'
        for twice, which in ((hdr + other, "UserId"), (other + hdr, "UserId"),
                             (hdr + hdr_bad.split("</fp:UserId>", 1)[1], "UserPassword")):
            with self.subTest(twice=twice):
                r = anon.raw(envelope(search_body(), header=twice))
                self.assert_client_fault(r, f"the SOAP header holds {which} more than once")

    def test_domain_ignores_case_and_user_name_does_not(self):
        u = make_user()
        name = u.name
        c = Client(self.daemon, u)
        for login in (name + "##flexnet", name + "##FLEXNET", name + "##FlexNet"):
            with self.subTest(login=login):
                u.name = login
                self.assertEqual(c.call(search_body()).status_text, "SUCCESS")
        for login in (name.upper() + "##FLEXnet", name.upper(), name + "##other"):
            with self.subTest(login=login):
                u.name = login
                self.assert_client_fault(Client(self.daemon, u).call(search_body()), "authentication failed",
                                         status=401)
        # A user of another domain, written in another case.
        other = "u" + token(10)
        ctl("user", "add", other, "--domain", "Acme", stdin="pw-" + other + "\n")
        r = Client(self.daemon, User(other + "##ACME", "pw-" + other)).call(search_body())
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        # One user per name and domain, however the domain is written.
        r = ctl("user", "add", other, "--domain", "acme", stdin="x\n", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("exists", r.stderr)
        # Nor by SQL: a login as other##acme would match either twin.
        with self.assertRaises(subprocess.CalledProcessError) as e:
            psql("INSERT INTO users (name, domain, password_hash) "
                 "SELECT name, 'ACME', password_hash FROM users WHERE name = :'v1'", other)
        self.assertIn("users_name_domain_folded_idx", e.exception.stderr)

    @unittest.skipIf(os.environ.get("ENTITLEMENTD_SANITIZED") == "1", "ASan changes the memory figures")
    def test_concurrent_first_requests_of_a_user_hash_the_password_once(self):
        # A yescrypt check takes 16 MiB for its moment: 16 workers checking
        # the same new credentials at once would take 256 MiB. They wait for
        # one check instead, and at most two run at a time.
        # Measured as deployed: without the run-time XSD validation the
        # harness turns on elsewhere (libxml2 keeps megabytes per thread).
        d = Daemon(ENTITLEMENTD_WORKERS=16, ENTITLEMENTD_VALIDATE_XML=0).start()
        try:
            u = make_user()
            results = []
            barrier = threading.Barrier(16)

            def run():
                c = Client(d, u)
                barrier.wait()
                # (A query that finds nothing: the answer's size is not measured here.)
                results.append(c.call(search_body(simple_query("entitlementId", "none-" + token(8)))).status_text)
                c.close()

            threads = [threading.Thread(target=run) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, ["SUCCESS"] * 16)
            with open(f"/proc/{d.proc.pid}/status") as f:
                hwm = int(next(line for line in f if line.startswith("VmHWM")).split()[1])
            self.assertLess(hwm, 64 * 1024, "peak resident KiB")
        finally:
            self.assertEqual(d.stop(), 0)

    def test_a_flood_of_wrong_credentials_leaves_workers_for_known_ones(self):
        # At most two credential checks run and four wait in a worker;
        # further new credentials are put back (no thread held) until a
        # turn is free, so a client whose credentials are remembered is
        # still served at once, and every guess gets its 401.
        d = Daemon(ENTITLEMENTD_WORKERS=16).start()
        try:
            known = make_user()
            self.assertEqual(Client(d, known).call(search_body()).status_text, "SUCCESS")
            statuses = []
            barrier = threading.Barrier(25)

            def flood(i):
                u = User("nobody-" + token(6), "wrong" + str(i))
                c = Client(d, u)
                barrier.wait()
                statuses.append(c.call(search_body()).status)
                c.close()

            threads = [threading.Thread(target=flood, args=(i,)) for i in range(24)]
            for t in threads:
                t.start()
            barrier.wait()
            time.sleep(0.05)
            start = time.time()
            # A search that reads nothing: what is timed is getting a worker.
            quick = search_body(simple_query("entitlementId", "NONE-" + token(8)))
            self.assertEqual(Client(d, known).call(quick).status_text, "SUCCESS")
            self.assertLess(time.time() - start, 1.0)
            for t in threads:
                t.join()
            self.assertEqual(statuses, [401] * 24)
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{d.port}/metrics", timeout=10).read().decode()
            self.assertRegex(metrics, r'entitlementd_password_logins_total\{check="busy",outcome="deferred"\} [1-9]')
        finally:
            self.assertEqual(d.stop(), 0)

    def test_a_worker_standing_by_serves_while_the_active_one_waits(self):
        # One worker of three takes requests (ENTITLEMENTD_ACTIVE_WORKERS=1).
        # An upgrade whose parent a transaction here holds locked keeps its
        # worker waiting in PostgreSQL; a worker standing by must take the
        # next request meanwhile, and the upgrade must finish once the lock
        # goes.
        cat = Catalog()
        eid = "SB-" + token(10)
        aid = eid + "-P"
        self.ok(create_body([{"eid": eid, "items": [(aid, cat.base, 5, {"expiration": "2027-12-31"})]}]))
        d = Daemon(ENTITLEMENTD_WORKERS=3, ENTITLEMENTD_ACTIVE_WORKERS=1).start()
        locker = RowLock(aid)
        try:
            done = {}

            def call(key, body):
                c = Client(d, self.user)
                done[key] = c.call(body)
                c.close()

            upgrade = threading.Thread(target=call, args=("upgrade", lifecycle_body("upgradeLicense", [{"items": [
                change_item_xml(aid, aid + "-U", cat.upgrade, count=1, allow=True)]}])))
            upgrade.start()
            for _ in range(200):
                waiting = psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND datname = current_database()")
                if waiting[0][0] != "0":
                    break
                time.sleep(0.05)
            self.assertNotEqual(waiting[0][0], "0", "the upgrade never waited for the lock")
            count = threading.Thread(target=call, args=("count", count_body(simple_query("entitlementId", eid))))
            count.start()
            count.join(timeout=20)
            self.assertFalse(count.is_alive(), "no worker took a request while the only active one waited")
            self.assertEqual((done["count"].status_text, done["count"].text("f:count")), ("SUCCESS", "1"))
            self.assertNotIn("upgrade", done)
            # /metrics tells the states apart: the upgrade's worker waits.
            m = http.client.HTTPConnection("127.0.0.1", d.port, timeout=20)
            m.request("GET", "/metrics")
            text = m.getresponse().read().decode()
            m.close()
            self.assertIn("entitlementd_http_workers_active_max 1\n", text)
            self.assertRegex(text, r'entitlementd_http_workers\{state="waiting"\} [1-3]\n')
            self.assertEqual(locker.end("COMMIT;"), 0)
            upgrade.join(timeout=20)
            self.assertEqual(done["upgrade"].status_text, "SUCCESS", done["upgrade"].body)
        finally:
            locker.end()
            self.assertEqual(d.stop(), 0)

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        sock_before = self.client.conn.sock
        for _ in range(5):
            r = self.client.call(search_body())
            self.assertEqual(r.status_text, "SUCCESS")
            if sock_before is None:
                sock_before = self.client.conn.sock
            self.assertIs(self.client.conn.sock, sock_before)

    def test_idle_connections_do_not_hold_workers(self):
        # More idle keep-alive connections than workers (4): requests still pass.
        idle = []
        for _ in range(12):
            s = socket.create_connection(("127.0.0.1", self.daemon.port))
            idle.append(s)
        try:
            r = Client(self.daemon, self.user).call(search_body())
            self.assertEqual(r.status_text, "SUCCESS")
        finally:
            for s in idle:
                s.close()

    def test_a_repeated_message_is_written_once_per_interval_with_a_count(self):
        d = Daemon(ENTITLEMENTD_LOG_REPEAT_SECONDS=1).start()
        try:
            c = Client(d, None)
            for _ in range(60):
                self.assertEqual(c.call(search_body(), validate=False).status, 401)
            time.sleep(2.5)  # the interval is over, and the sweep has written the count
            log = d.read_log()
        finally:
            self.assertEqual(d.stop(), 0)
        lines = [line for line in log.splitlines() if "authentication failed: no credentials" in line]
        written = [line for line in lines if "not written" not in line]
        counts = [int(re.search(r"repeated (\d+) times in the last \d+ s, not written", line).group(1))
                  for line in lines if "not written" in line]
        self.assertLess(len(written), 10, lines)
        self.assertTrue(counts, lines)
        self.assertEqual(len(written) + sum(counts), 60, lines)

    def test_logs_carry_request_ids(self):
        ghost = "ghost-" + token(8)  # a line of its own (identical lines are throttled)
        Client(self.daemon, User(ghost, "x")).call(search_body())
        time.sleep(0.2)
        lines = [line for line in self.daemon.read_log().splitlines() if f'authentication failed for "{ghost}"' in line]
        self.assertTrue(lines)
        self.assertRegex(lines[-1], r"\[[0-9a-f]{16}\]")
        self.assertNotIn(self.user.password, self.daemon.read_log())

    def test_a_user_name_that_is_not_utf8_is_an_unknown_user(self):
        # The database refuses the bytes; that is not a bad stored hash.
        marker = token(6).encode()
        raw = b"\xfe\xfd" + marker + b":x"
        r = Client(self.daemon, None).raw(envelope(search_body()),
                                          headers={"Authorization": "Basic " + base64.b64encode(raw).decode()})
        self.assertEqual(r.status, 401, r.body)
        time.sleep(0.2)
        lines = [line for line in self.daemon.read_log().splitlines() if marker.decode() in line]
        self.assertTrue(lines)
        self.assertIn("unknown user (the name is not UTF-8)", lines[-1])
        self.assertNotIn("stored password hash", "\n".join(lines))

    def test_sigterm_finishes_a_large_answer_its_client_is_reading(self):
        # An answer larger than the socket buffers: part of it waits in the
        # daemon for the client to read on, which it does only after the
        # SIGTERM. It must arrive whole.
        prefix = "BIG-" + token(8)
        # 200,000 characters per entitlement, in attribute values of the
        # longest size allowed (4,000).
        blobs = [(f"blob{j}", {"stringValue": "x" * 4000}) for j in range(50)]
        for k in range(6):
            ents = "".join(entitlement_full_xml(f"{prefix}-{k}-{i}", "", attributes=attributes_xml(
                "entitlementAttributes", blobs)) for i in range(10))
            self.assertEqual(self.client.call(create_full_body(ents)).status_text, "SUCCESS")
        d = Daemon().start()
        body = envelope(search_body(simple_query("entitlementId", prefix, "STARTS_WITH"), batch=100))
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall((f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nSOAPAction: \"\"\r\n"
                   f"Authorization: {self.user.basic()}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
        time.sleep(0.5)  # answered (or being answered), mostly still in the daemon
        rcs = []
        stopper = threading.Thread(target=lambda: rcs.append(d.stop()))
        stopper.start()
        time.sleep(0.2)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        stopper.join()
        self.assertEqual(rcs, [0])
        head, _, payload = data.partition(b"\r\n\r\n")
        length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
        self.assertGreater(length, 10_000_000)
        self.assertEqual(len(payload), length)
        self.assertEqual(payload.count(b"<fnp:entitlement>"), 60)

    def test_sigterm_drains_in_flight_requests(self):
        d = Daemon().start()
        c = Client(d, self.user)
        results = []

        def slow():
            # A large query that takes a while to answer.
            results.append(c.call(search_body(batch=2000)))

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.05)
        rc = d.stop()
        t.join()
        self.assertEqual(rc, 0)
        self.assertEqual(len(results), 1)
        # Answered whole (on a database that has gathered large entitlements,
        # a page of 2,000 may be over ENTITLEMENTD_MAX_PAGE_MB: answered too).
        r = results[0]
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.status_text == "SUCCESS" or
                        r.text("f:statusInfo/f:reason").startswith("RESPONSE_TOO_LARGE: "), r.body[:500])

    def test_sigterm_answers_every_request_that_has_arrived(self):
        """Two workers hashing new users' passwords, 20 such requests sent,
        and SIGTERM meanwhile: each request is answered (served, or a 503
        to try again) with Connection: close; none is reset unread."""
        d = Daemon(ENTITLEMENTD_WORKERS=2).start()
        users = [make_user() for _ in range(20)]
        results, lock = [], threading.Lock()

        def one(u):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=60)
            body = envelope(search_body())
            s.sendall((f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\n"
                       f"SOAPAction: \"\"\r\nAuthorization: {u.basic()}\r\nContent-Length: {len(body)}\r\n\r\n")
                      .encode() + body)
            try:
                reply, _ = read_reply(s, timeout=60)
                outcome = (reply.status, reply.headers.get("connection"))
            except OSError as e:
                outcome = type(e).__name__
            s.close()
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=one, args=(u,)) for u in users]
        for t in threads:
            t.start()
        time.sleep(0.3)
        rc = d.stop()
        for t in threads:
            t.join()
        self.assertEqual(rc, 0)
        print(f"\nSIGTERM with 20 logins arriving: {sorted(map(str, results))}", file=sys.stderr)
        self.assertEqual(len(results), 20)
        # (How many are served before the stop and how many get the 503
        # depends on the machine's speed; none may be reset.)
        for r in results:
            self.assertIn(r, ((200, "keep-alive"), (200, "close"), (503, "close")), results)

    def test_sigterm_waits_for_the_first_request_of_a_new_connection(self):
        """A client that has connected but not yet sent its request when
        SIGTERM comes (between its connect and its send): the request it
        sends meanwhile is answered 503 with Connection: close, not reset
        by the daemon's close. A kept-alive connection that has been
        served is closed at once, as before."""
        d = Daemon().start()
        fresh = socket.create_connection(("127.0.0.1", d.port), timeout=30)
        served = socket.create_connection(("127.0.0.1", d.port), timeout=30)
        served.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(read_reply(served)[0].status, 200)
        time.sleep(0.2)  # both accepted by now
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        # The served one is closed without waiting for the other.
        served.settimeout(5)
        self.assertEqual(served.recv(100), b"")
        time.sleep(0.3)
        fresh.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply, _ = read_reply(fresh, timeout=30)
        self.assertEqual(reply.status, 503)
        self.assertEqual(reply.headers.get("connection"), "close")
        self.assertEqual(d.stop(), 0)
        # No connection holds the stop back for more than the wait.
        self.assertLess(time.monotonic() - t0, 10)
        fresh.close()
        served.close()

    def test_a_response_that_says_close_is_the_last_on_its_connection(self):
        """Pipelined REST requests read while the daemon stops: the first
        answer says Connection: close, and nothing follows it (a client
        takes the requests after it as not done, and may send them again)."""
        d = Daemon(ENTITLEMENTD_WORKERS=1).start()
        users = [make_user() for _ in range(3)]

        def logins():  # the one worker hashes their passwords meanwhile
            for u in users:
                try:
                    Client(d, u).call(search_body())
                except OSError:
                    pass
        s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(read_reply(s)[0].status, 200)  # accepted, kept alive
        slow = threading.Thread(target=logins)
        slow.start()
        time.sleep(0.03)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        rc = d.stop()
        slow.join()
        replies, buf = [], b""
        try:
            while True:
                r, buf = read_reply(s, timeout=10, buf=buf)
                replies.append((r.status, r.headers.get("connection")))
        except (OSError, ValueError, AssertionError):
            pass
        s.close()
        self.assertEqual(rc, 0)
        self.assertTrue(replies, "no answer at all")
        print(f"\nreplies while stopping: {replies}", file=sys.stderr)
        closes = [i for i, (_, conn) in enumerate(replies) if conn == "close"]
        self.assertTrue(not closes or closes[0] == len(replies) - 1, replies)


class DatabaseRestartTest(DaemonTestCase):
    def pg(self, cmd):
        home = os.environ["ENTITLEMENTD_TEST_HOME"]
        root = os.environ["ENTITLEMENTD_SOURCE"]
        subprocess.run([os.path.join(root, "scripts", "pg"), cmd, home], check=True, capture_output=True)

    def test_database_down_gives_503_and_changes_nothing(self):
        fresh = make_user()  # not yet in the daemon's credential cache
        self.assertEqual(self.client.call(search_body()).status_text, "SUCCESS")
        self.pg("stop")
        try:
            for user in (fresh, self.user):
                r = Client(self.daemon, user).call(search_body())
                self.assertEqual(r.status, 503, r.body)
                self.assertEqual(r.faultcode, "SOAP-ENV:Server", r.body)
                self.assertIn("DATABASE_UNAVAILABLE", r.faultstring)
        finally:
            self.pg("start")
        r = Client(self.daemon, fresh).call(search_body())
        self.assertEqual(r.status_text, "SUCCESS", r.body)

    def test_database_restart_between_two_requests(self):
        r = self.client.call(search_body())
        self.assertEqual(r.status_text, "SUCCESS")
        self.pg("restart")
        self.client.close()
        c = Client(self.daemon, self.user)
        # The pool's connections died with the server: the next request reconnects.
        r = c.call(search_body())
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        c.close()


if __name__ == "__main__":
    unittest.main()
