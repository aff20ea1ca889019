"""HTTP framing (service/soap/frame.c) and the request guard (guard.c)
through the real daemon, over raw sockets: slow and pipelined clients,
dishonest lengths, chunked bodies, refused methods and media types, and
XML that gSOAP alone would let through. Every refusal is a precise HTTP
status with a Client fault, and changes nothing in the database."""
import base64
import json
import socket
import threading
import time
import unittest

from lxml import etree

from builders import create_body, search_body, simple_query
from catalog import Catalog
from harness import PATH, SOAP_ENV, Daemon, DaemonTestCase, envelope, psql, token


def quick_search():
    """A search that finds nothing by an indexed key: what a timed request
    sends, so that its time is the transport's, not that of reading
    every entitlement the suite has made so far."""
    return search_body(simple_query("entitlementId", "NONE-" + token(8)))


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        self.faultcode = self.faultstring = None
        self.status_text = None
        try:
            doc = etree.fromstring(body)
            self.faultcode = doc.findtext(f".//{{{SOAP_ENV}}}Fault/faultcode")
            self.faultstring = doc.findtext(f".//{{{SOAP_ENV}}}Fault/faultstring")
            self.status_text = doc.findtext(".//{*}statusInfo/{*}status")
        except etree.XMLSyntaxError:
            pass


def read_reply(sock, timeout=10, buf=b""):
    """Reads one HTTP response (Content-Length framed) from sock, after the
    bytes of buf already read; returns it and the bytes after it."""
    sock.settimeout(timeout)
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response: %r" % buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    if status == 100:
        return Reply(100, headers, b""), rest
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Reply(status, headers, rest[:n]), rest[n:]


class HttpTest(DaemonTestCase):
    daemon_env = {"ENTITLEMENTD_RECV_TIMEOUT": "2"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        self.addCleanup(s.close)
        return s

    def request(self, body, headers=None, length=True, method="POST"):
        h = {"Host": "localhost", "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""',
             "Authorization": self.user.basic()}
        if length:
            h["Content-Length"] = str(len(body))
        h.update(headers or {})
        head = f"{method} {PATH} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items() if v is not None)
        return head.encode() + b"\r\n" + body

    def send(self, raw):
        s = self.connect()
        s.sendall(raw)
        return read_reply(s)[0]

    def assert_refused(self, reply, status, text=None):
        self.assertEqual(reply.status, status, reply.body)
        self.assertEqual(reply.faultcode, "SOAP-ENV:Client", reply.body)
        if text:
            self.assertIn(text, reply.faultstring)

    def create(self, eid):
        return envelope(create_body([{"eid": eid, "items": [(eid + "-1", self.cat.base, 1)]}]))

    def count(self, eid):
        return int(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid)[0][0])

    # Slow and pipelined clients.

    def test_slow_clients_hold_no_worker_and_time_out(self):
        # More trickling connections than workers (4): a normal request is
        # still answered at once, and the slow ones get 408 after the
        # receive timeout (2 s here) counted from their first byte.
        slow = [self.connect() for _ in range(10)]
        for s in slow:
            s.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        start = time.time()
        r = self.send(self.request(envelope(quick_search())))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertLess(time.time() - start, 1.5)
        for s in slow:
            s.sendall(b"X-Slow: 1\r\n")
        reply, _ = read_reply(slow[0], timeout=8)
        self.assert_refused(reply, 408, "did not arrive in time")
        self.assertLess(time.time() - start, 6)

    def test_a_late_request_is_refused_in_its_fronts_shape_with_its_id(self):
        # The 408 of a body that never finishes arriving says what any
        # refusal of its path says: the device protocol's shape on its path,
        # and the client's X-Request-Id once that header has arrived.
        s = self.connect()
        s.sendall(b"POST /dmps/status/4.0.0 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"X-Request-Id: late-42\r\nContent-Length: 100\r\n\r\n{\"header\":")
        reply, _ = read_reply(s, timeout=8)
        self.assertEqual(reply.status, 408, reply.body)
        self.assertEqual(reply.headers.get("x-request-id"), "late-42")
        doc = json.loads(reply.body)
        self.assertEqual(doc["protocol"], {"name": "Status", "version": "4.0.0", "type": "RESPONSE"}, doc)
        self.assertEqual(doc["status"]["code"], "408", doc)

    def test_pipelined_requests_are_all_answered_in_order(self):
        eids = ["P-" + token(10) for _ in range(3)]
        s = self.connect()
        s.sendall(b"".join(self.request(self.create(e)) for e in eids))
        rest = b""
        for e in eids:
            reply, rest = read_reply(s, buf=rest)
            self.assertEqual(reply.status, 200, reply.body)
            self.assertIn(e.encode(), reply.body)
            self.assertEqual(self.count(e), 1)

    def test_http10_keep_alive_is_kept_on_the_soap_path(self):
        """HTTP/1.0 with Connection: keep-alive (ab -k and the like): SOAP
        requests and the WSDL are answered with keep-alive and the
        connection stays open; without it, the connection closes."""
        s = self.connect()
        for i in range(2):
            eid = "K10-" + token(10)
            raw = self.request(self.create(eid), {"Connection": "keep-alive"}).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
            s.sendall(raw)
            reply, rest = read_reply(s)
            self.assertEqual((reply.status, reply.headers.get("connection")), (200, "keep-alive"), reply.body)
            self.assertIn(eid.encode(), reply.body)
        s.sendall(f"GET {PATH}?wsdl HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n".encode())
        reply, _ = read_reply(s)
        self.assertEqual((reply.status, reply.headers.get("connection")), (200, "keep-alive"))
        s2 = self.connect()
        s2.sendall(self.request(self.create("K10-" + token(10))).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        reply, _ = read_reply(s2)
        self.assertEqual((reply.status, reply.headers.get("connection")), (200, "close"))
        self.assertEqual(s2.recv(10), b"")

    def test_request_split_into_many_small_writes(self):
        eid = "S-" + token(10)
        s = self.connect()
        for i in range(0, len(raw := self.request(self.create(eid))), 97):
            s.sendall(raw[i:i + 97])
            time.sleep(0.002)
        reply, _ = read_reply(s)
        self.assertEqual(reply.status_text, "SUCCESS", reply.body)

    # Lengths and framing.

    def test_content_length_shorter_than_the_body_frames_the_request(self):
        eid = "L-" + token(10)
        body = self.create(eid)
        raw = self.request(body, {"Content-Length": str(len(body) - 40)})
        r = self.send(raw)
        self.assert_refused(r, 500, "malformed request")
        self.assertEqual(self.count(eid), 0)

    def test_bad_content_lengths(self):
        for value in ("1 2", "+100", "-1", "abc"):
            self.assert_refused(self.send(self.request(b"<x/>", {"Content-Length": value})), 400,
                                "Content-Length")
        # Neither Content-Length nor chunked: no body (RFC 9112, 6.3), so an
        # empty envelope; what follows is not read as its body.
        self.assert_refused(self.send(self.request(b"<x/>", {"Connection": "close"}, length=False)), 500,
                            "not an XML SOAP envelope: no element")

    def test_chunked_body(self):
        eid = "C-" + token(10)
        body = self.create(eid)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 100]), body[i:i + 100]) for i in range(0, len(body), 100))
        r = self.send(self.request(chunks + b"0\r\n\r\n", {"Transfer-Encoding": "chunked"}, length=False))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(self.count(eid), 1)

    def test_expect_100_continue(self):
        eid = "X-" + token(10)
        body = self.create(eid)
        raw = self.request(body, {"Expect": "100-continue"})
        head, payload = raw.split(b"\r\n\r\n", 1)
        s = self.connect()
        s.sendall(head + b"\r\n\r\n")
        interim, _ = read_reply(s, timeout=2)
        self.assertEqual(interim.status, 100)
        s.sendall(payload)
        reply, _ = read_reply(s)
        self.assertEqual(reply.status_text, "SUCCESS", reply.body)

    def test_oversized_bodies_get_413_however_framed(self):
        small = Daemon(ENTITLEMENTD_MAX_BODY_BYTES=4096).start()
        try:
            big = envelope(search_body()).replace(b"</soapenv:Body>", b" " * 5000 + b"</soapenv:Body>")
            for headers, length, data in (({}, True, big),
                                          ({"Transfer-Encoding": "chunked"}, False,
                                           b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big))):
                s = socket.create_connection(("127.0.0.1", small.port))
                s.sendall(self.request(data, headers, length))
                reply, _ = read_reply(s)
                s.close()
                self.assert_refused(reply, 413, "larger than 4096")
        finally:
            self.assertEqual(small.stop(), 0)

    def test_refused_methods_media_types_and_headers(self):
        r = self.send(self.request(b"", method="PUT"))
        self.assert_refused(r, 405)
        self.assertEqual(r.headers.get("allow"), "GET, HEAD, POST")
        # A method HTTP does not define is a 501 (RFC 9110, 9.1), methods
        # being case-sensitive; an HTTP/1.1 request needs a valid Host
        # (RFC 9112, 3.2). Each refusal is a SOAP fault: the path is SOAP's.
        for method in ("BREW", "post"):
            self.assert_refused(self.send(self.request(b"", method=method)), 501, "unknown HTTP method")
        body = envelope(search_body())
        self.assert_refused(self.send(self.request(body, {"Host": None})), 400, "needs a Host header")
        for host in ("a b", "u@x", "x:abc"):
            self.assert_refused(self.send(self.request(body, {"Host": host})), 400, "Host header")
        r = self.send(self.request(body, {"Host": "[::1]:8080"}))
        self.assertEqual(r.status, 200, r.body)
        # HTTP/1.0 needs none.
        raw = self.request(body, {"Host": None}).replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1)
        self.assertEqual(self.send(raw).status, 200)
        r = self.send(self.request(envelope(search_body()), {"Content-Type": "multipart/related; boundary=x"}))
        self.assert_refused(r, 415, "multipart")
        r = self.send(self.request(envelope(search_body()), {"SOAPAction": "x" * 10000}))
        self.assert_refused(r, 431)

    def test_one_header_line_limit_for_the_framing_and_gsoap(self):
        # A line of 8,190 bytes (8 KiB with its CR LF) is served, one byte
        # more is a 431 from the framing: never a gSOAP error. Each header
        # gSOAP is passed (SOAPAction, Content-Type) and one it is not.
        def line(name, n):
            fill = {"SOAPAction": lambda k: '"' + "a" * (k - 2) + '"',
                    "Content-Type": lambda k: "text/xml; charset=utf-8; x=" + "a" * (k - 27),
                    "X-Note": lambda k: "a" * k}[name]
            return fill(n - len(name) - 2)
        for name in ("SOAPAction", "Content-Type", "X-Note"):
            r = self.send(self.request(envelope(search_body()), {name: line(name, 8190)}))
            self.assertEqual(r.status_text, "SUCCESS", (name, r.status, r.body[:300]))
            r = self.send(self.request(envelope(search_body()), {name: line(name, 8191)}))
            self.assert_refused(r, 431)
        # Basic credentials of 8,190 bytes: a 401 from the front, not a 500.
        r = self.send(self.request(envelope(search_body()), {"Authorization": "Basic " + "A" * 8169}))
        self.assertEqual(r.status, 401, r.body[:300])
        r = self.send(self.request(envelope(search_body()), {"Authorization": "Basic " + "A" * 8170}))
        self.assert_refused(r, 431)
        r = self.send(b"POST " + PATH.encode() + b" HTTP/2.0\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(r.status, 505)

    # XML the guard refuses before gSOAP sees it.

    def test_invalid_characters_and_references_change_nothing(self):
        for bad in ("&#xFFFE;", "&#1;", "&#0;", "&#xD800;", "&foo;", "\x01", "&#x110000;"):
            eid = "R-" + token(8)
            body = self.create(eid).replace(eid.encode() + b"</v4:id>", (eid + bad).encode() + b"</v4:id>", 1)
            r = self.send(self.request(body))
            self.assert_refused(r, 500)
            if bad == "&#x110000;":
                self.assertIn("beyond U+10FFFF", r.faultstring)
            self.assertEqual(self.count(eid), 0, bad)
            self.assertEqual(int(psql("SELECT count(*) FROM entitlements WHERE entitlement_id LIKE :'v1'",
                                      eid + "%")[0][0]), 0, bad)

    def test_characters_above_the_bmp_by_reference(self):
        eid = "U-" + token(8)
        body = self.create(eid).replace(eid.encode() + b"</v4:id>", (eid + "&#x1F600;&#128512;x").encode() + b"</v4:id>", 1)
        r = self.send(self.request(body))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(self.count(eid + "\U0001F600\U0001F600x"), 1)

    def test_depth_attributes_and_trailing_content(self):
        deep = "<x:a xmlns:x='urn:x'>" * 70 + "</x:a>" * 70
        r = self.send(self.request(envelope(search_body(), header=deep)))
        self.assert_refused(r, 500, "nesting deeper than 64")
        attrs = " ".join(f"a{i}='1'" for i in range(5000))
        body = envelope(search_body()).replace(b"<soapenv:Body>", f"<soapenv:Body {attrs}>".encode())
        start = time.time()
        r = self.send(self.request(body, {"Authorization": None}))
        self.assert_refused(r, 500, "attributes")
        self.assertLess(time.time() - start, 2)
        eid = "T-" + token(8)
        r = self.send(self.request(self.create(eid) + b"<trailing/>"))
        self.assert_refused(r, 500, "after the end")
        self.assertEqual(self.count(eid), 0)

    def test_nil_and_references_are_refused_and_the_daemon_stays_up(self):
        # xsi:nil on the operation element once crashed the daemon, without
        # credentials: gSOAP handed the handler no request.
        xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        pid = self.daemon.proc.pid
        for op in ("upgradeLicenseRequest", "upsellLicenseRequest", "renewLicenseRequest",
                   "createSimpleEntitlementRequest", "searchEntitlementRequest", "getEntitlementCountRequest",
                   "setEntitlementStateRequest", "setLineItemStateRequest", "deleteEntitlementRequest"):
            for auth in (None, self.user.basic()):
                with self.subTest(op=op, credentials=auth is not None):
                    r = self.send(self.request(envelope(f'<v4:{op} {xsi} xsi:nil="true"/>'), {"Authorization": auth}))
                    self.assert_refused(r, 500, "xsi:nil is not accepted")
        # Nested, with any prefix bound to the XSI namespace.
        eid = "N-" + token(8)
        body = self.create(eid).replace(b"<v4:numberOfCopies>", b'<v4:numberOfCopies i:nil="1" '
                                        b'xmlns:i="http://www.w3.org/2001/XMLSchema-instance">', 1)
        self.assertIn(b"i:nil", body)
        self.assert_refused(self.send(self.request(body)), 500, "xsi:nil")
        # SOAP-encoding references: gSOAP would read two units as one.
        unit = "<v4:entitlementData><v4:lineItemData><v4:parentLineItemIdentifier><v4:primaryKeys>" \
               "<v4:activationId>X</v4:activationId></v4:primaryKeys></v4:parentLineItemIdentifier>" \
               "</v4:lineItemData></v4:entitlementData>"
        for attr in ('id="u1"', 'href="#u1"', 'e:ref="u1" xmlns:e="http://www.w3.org/2003/05/soap-encoding"'):
            body = envelope(f"<v4:upgradeLicenseRequest>{unit.replace('<v4:entitlementData>', f'<v4:entitlementData {attr}>')}"
                            "</v4:upgradeLicenseRequest>")
            self.assert_refused(self.send(self.request(body)), 500, "SOAP-encoding references")
        self.assertEqual(self.count(eid), 0)
        self.assertEqual(self.daemon.proc.pid, pid)
        self.assertIsNone(self.daemon.proc.poll())
        self.assertEqual(self.send(self.request(envelope(search_body()))).status, 200)

    # Where gSOAP would read a request otherwise than the checks did.

    def test_header_lookalikes_do_not_reach_gsoap(self):
        # gSOAP takes "Transfer_Encoding" for Transfer-Encoding: were it
        # passed on, gSOAP would de-chunk a body the guard read as a comment.
        eid = "H-" + token(8)
        inner = self.create(eid)
        body = b"<z><!--\n%X\r\n%s\r\n0\r\n\r\n--></z>" % (len(inner), inner)
        r = self.send(self.request(body, {"Transfer_Encoding": "chunked"}))
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertEqual(self.count(eid), 0)

    def test_comments_gsoap_would_end_early_are_refused(self):
        for trick in ("<!-- -- >&#1;-->", "<!--> <![CDATA[ -->&#1;<!-- ]]> -->", "<?pi a?b>&#1;?>"):
            eid = "M-" + token(8)
            body = self.create(eid).replace(eid.encode() + b"</v4:id>", eid.encode() + b"</v4:id>" + trick.encode(), 1)
            r = self.send(self.request(body))
            self.assert_refused(r, 500, "malformed")
            self.assertEqual(self.count(eid), 0, trick)

    def test_only_utf8_utf16_and_latin1_may_be_declared(self):
        # UTF-16 declared on text that is not UTF-16: the declaration lies.
        body = envelope(search_body()).replace(b'encoding="UTF-8"', b'encoding="UTF-16"')
        self.assert_refused(self.send(self.request(body)), 500, "(UTF-8, or UTF-16 when the text is UTF-16)")
        # Any other encoding is refused by its name, declared or in the
        # Content-Type's charset (quoted or not), before anything is read.
        eid = "ENC-" + token(8)
        for decl, ctype, label in (('encoding="windows-1252"', "text/xml; charset=utf-8", "windows-1252"),
                                   ('encoding="EBCDIC-US"', "text/xml", "EBCDIC-US"),
                                   (None, 'text/xml; charset="Shift_JIS"', "Shift_JIS"),
                                   (None, "text/xml;charset=koi8-r; action=x", "koi8-r")):
            with self.subTest(label=label):
                body = self.create(eid)
                body = (body.replace(b'encoding="UTF-8"', decl.encode()) if decl else
                        body.replace(b'<?xml version="1.0" encoding="UTF-8"?>', b""))
                r = self.send(self.request(body, {"Content-Type": ctype}))
                self.assert_refused(r, 500, f"the body's encoding '{label}' is not supported; send UTF-8, UTF-16 "
                                            "or ISO-8859-1")
        self.assertEqual(self.count(eid), 0)

    def test_latin1_bodies_are_read(self):
        # ISO-8859-1 (under any of its registered names), declared in the
        # XML declaration or only in the Content-Type's charset, is read as
        # what it is; the answer is UTF-8. The declaration wins over the
        # charset, as in every XML parser given the bytes alone.
        name = "M\u00fcller caf\u00e9 \u00bd \u00ff"
        for decl, ctype in (('encoding="ISO-8859-1"', "text/xml; charset=utf-8"), ('encoding="latin1"', "text/xml"),
                            ("encoding='l1'", "text/xml"), (None, "text/xml; charset=ISO-8859-1"),
                            (None, 'text/xml; charset="iso_8859-1:1987"')):
            with self.subTest(decl=decl, ctype=ctype):
                eid = "L1-" + token(8)
                text = envelope(create_body([{"eid": eid, "description": name,
                                              "items": [(eid + "-1", self.cat.base, 1)]}])).decode()
                text = (text.replace('encoding="UTF-8"', decl) if decl else
                        text.replace('<?xml version="1.0" encoding="UTF-8"?>', ""))
                r = self.send(self.request(text.encode("latin-1"), {"Content-Type": ctype}))
                self.assertEqual(r.status_text, "SUCCESS", r.body)
                self.assertEqual(self.count(eid), 1)
                self.assertEqual(psql("SELECT description FROM entitlements WHERE entitlement_id = :'v1'", eid),
                                 [[name]])
        # The same bytes declared UTF-8 are not UTF-8: refused, as before.
        eid = "L1-" + token(8)
        text = envelope(create_body([{"eid": eid, "description": name, "items": [(eid + "-1", self.cat.base, 1)]}]))
        self.assert_refused(self.send(self.request(text.decode().encode("latin-1"))), 500, "not valid UTF-8")
        self.assertEqual(self.count(eid), 0)

    def test_utf16_bodies_are_read(self):
        # Every XML processor reads UTF-16 (XML 1.0, 4.3.3): with its byte
        # order mark, either order, or without one when it starts with
        # "<?" (appendix F). The answer is UTF-8.
        name = "M\u00fcller \u6f22\u5b57 \U0001d11e"
        for codec, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-16-le", b""),
                           ("utf-16-be", b"")):
            with self.subTest(codec=codec, bom=bom):
                eid = "U16-" + token(8)
                text = envelope(create_body([{"eid": eid, "description": name,
                                              "items": [(eid + "-1", self.cat.base, 1)]}])).decode()
                text = text.replace('encoding="UTF-8"', 'encoding="UTF-16"')
                r = self.send(self.request(bom + text.encode(codec), {"Content-Type": "text/xml; charset=utf-16"}))
                self.assertEqual(r.status_text, "SUCCESS", r.body)
                self.assertEqual(self.count(eid), 1)
                self.assertEqual(psql("SELECT description FROM entitlements WHERE entitlement_id = :'v1'", eid),
                                 [[name]])
        # Not UTF-16 after all: a lone surrogate, an odd byte at the end, a
        # declaration of another encoding. Nothing is written.
        eid = "U16-" + token(8)
        good = self.create(eid).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le")
        lone = good.replace(eid.encode("utf-16-le"), eid.encode("utf-16-le") + b"\x00\xd8", 1)
        for body, text in ((b"\xff\xfe" + lone, "not valid UTF-16"), (b"\xff\xfe" + good + b"<", "not valid UTF-16"),
                           (b"\xff\xfe" + good.replace("UTF-16".encode("utf-16-le"), "UTF-8\x20".encode("utf-16-le")),
                            "names another encoding")):
            with self.subTest(text=text):
                self.assert_refused(self.send(self.request(body)), 500, text)
        self.assertEqual(self.count(eid), 0)

    # Connections: closing, targets, timeouts, budgets.

    def test_a_fault_reaches_a_client_that_closed_its_sending_side(self):
        # A client that closes its sending side after its request (nc -N,
        # shutdown(SHUT_WR)) is answered all the same. gSOAP's own check
        # before it writes a fault took the socket, readable with nothing
        # to read, for a client gone, and wrote nothing: such a client got
        # "internal error: no response" instead of its fault.
        for body, headers, status in ((envelope(search_body()), {"Authorization": None}, 401),
                                      (envelope("<v4:fooRequest/>"), {}, 500),
                                      (envelope(search_body()), {}, 200)):
            with self.subTest(status=status):
                s = self.connect()
                s.sendall(self.request(body, headers))
                s.shutdown(socket.SHUT_WR)
                reply, _ = read_reply(s)
                s.close()
                self.assertEqual(reply.status, status, reply.body)
                if status != 200:
                    self.assertEqual(reply.faultcode, "SOAP-ENV:Client", reply.body)
                    self.assertNotIn("no response", reply.faultstring)

    def test_connection_close_in_a_list_is_honoured(self):
        s = self.connect()
        s.sendall(self.request(envelope(search_body()), {"Connection": "TE, close"}))
        reply, _ = read_reply(s)
        self.assertEqual(reply.status_text, "SUCCESS", reply.body)
        self.assertEqual(reply.headers.get("connection", "").lower(), "close")
        s.settimeout(5)
        self.assertEqual(s.recv(10), b"")

    def test_request_targets(self):
        full = f"http://127.0.0.1:{self.daemon.port}{PATH}"
        raw = self.request(envelope(search_body())).replace(f"POST {PATH} ".encode(), f"POST {full} ".encode(), 1)
        self.assertEqual(self.send(raw).status_text, "SUCCESS")
        raw = self.request(b"", method="GET").replace(f"GET {PATH} ".encode(), f"GET {full}?wsdl ".encode(), 1)
        self.assertEqual(self.send(raw).status, 200)
        raw = self.request(b"", method="GET").replace(PATH.encode(), PATH.encode() + b"?" + b"a" * 1100, 1)
        self.assertEqual(self.send(raw).status, 414)
        self.assert_refused(self.send(self.request(envelope(search_body()), {"Host": "h" * 300})), 400, "Host")

    def test_blank_line_after_a_request_leaves_the_connection_idle(self):
        # A CR LF after a body (some clients send one) is not the start of a
        # request that times out: the connection stays usable.
        s = self.connect()
        s.sendall(self.request(envelope(search_body())) + b"\r\n")
        reply, rest = read_reply(s)
        self.assertEqual(reply.status_text, "SUCCESS")
        time.sleep(3)  # longer than the receive timeout (2 s)
        s.sendall(self.request(envelope(search_body())))
        reply, _ = read_reply(s, buf=rest)
        self.assertEqual(reply.status_text, "SUCCESS", reply.body)

    def test_refused_and_unread_responses_hold_no_worker(self):
        # Clients that get a 401 and stay silent, and clients that pipeline
        # requests without reading the answers: workers (4) stay free.
        held = []
        for _ in range(12):
            s = self.connect()
            s.sendall(self.request(envelope(search_body()), {"Authorization": None}))
            held.append(s)
        for _ in range(8):
            s = self.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            get = f"GET {PATH}?wsdl HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            s.sendall(get * 200)
            held.append(s)
        time.sleep(0.3)
        start = time.time()
        r = self.send(self.request(envelope(quick_search())))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertLess(time.time() - start, 1.0)

    def test_silent_connections_are_closed_after_the_receive_timeout(self):
        s = self.connect()
        s.settimeout(6)
        start = time.time()
        self.assertEqual(s.recv(10), b"")
        self.assertLess(time.time() - start, 5)

    def test_requests_waiting_to_arrive_have_a_memory_budget(self):
        small = Daemon(ENTITLEMENTD_MAX_BUFFERED_MB=1).start()
        try:
            s = socket.create_connection(("127.0.0.1", small.port))
            body = envelope(search_body()).replace(b"</soapenv:Body>", b" " * 3000000 + b"</soapenv:Body>")
            raw = self.request(body)
            s.sendall(raw[:2000000])
            reply, _ = read_reply(s)
            s.close()
            self.assertEqual(reply.status, 503, reply.body)
            self.assertEqual(reply.faultcode, "SOAP-ENV:Server")
        finally:
            self.assertEqual(small.stop(), 0)


    def test_long_pipelines_share_the_workers_and_are_answered_in_order(self):
        # 3,000 requests in one write: answered in order, while another
        # client is served at once (a worker takes at most a few of them
        # before the connection goes back to the queue).
        n = 3000
        get = f"GET {PATH}?wsdl HTTP/1.1\r\nHost: p{{}}\r\n\r\n"
        # The credentials checked first (a password hash takes a good part
        # of a second on a slow machine): what is timed is the transport.
        self.assertEqual(self.send(self.request(envelope(quick_search()))).status_text, "SUCCESS")
        s = self.connect()
        s.sendall("".join(get.format(i) for i in range(n)).encode())
        start = time.time()
        r = self.send(self.request(envelope(quick_search())))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertLess(time.time() - start, 1.0)
        rest, seen = b"", 0
        while seen < n:
            reply, rest = read_reply(s, buf=rest)
            self.assertEqual(reply.status, 200)
            self.assertIn(f"http://p{seen}/".encode(), reply.body)  # the host asked, in order
            seen += 1

    def test_a_slow_reader_gets_the_whole_response(self):
        # The send timeout (2 s here) counts time without progress: a client
        # that keeps reading, slowly, for longer than that gets everything.
        slow = Daemon(ENTITLEMENTD_SEND_TIMEOUT=2).start()
        try:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", slow.port))
            get = f"GET {PATH}?wsdl HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            s.sendall(get * 60)  # about 3 MB of answers
            start, got, data = time.time(), 0, b""
            s.settimeout(5)
            while data.count(b"</wsdl:definitions>") < 60:
                chunk = s.recv(65536)
                self.assertTrue(chunk, f"closed after {len(data)} bytes")
                data += chunk
                time.sleep(0.005)
            self.assertGreater(time.time() - start, 2)
            s.close()
        finally:
            self.assertEqual(slow.stop(), 0)

    def test_long_character_references_are_read_as_written(self):
        eid = "Z-" + token(8)
        body = self.create(eid).replace(eid.encode() + b"</v4:id>", eid.encode() + b"&#000065;&#x0000042;</v4:id>", 1)
        r = self.send(self.request(body))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(self.count(eid + "AB"), 1)

    def test_sigterm_with_a_client_that_keeps_pipelining(self):
        d = Daemon().start()
        s = socket.create_connection(("127.0.0.1", d.port))
        get = f"GET {PATH}?wsdl HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        stop = False

        def flood():
            try:
                while not stop:
                    s.sendall(get * 50)
            except OSError:
                pass

        t = threading.Thread(target=flood)
        t.start()
        time.sleep(0.5)
        start = time.time()
        rc = d.stop()
        elapsed = time.time() - start
        stop = True
        s.close()
        t.join()
        self.assertEqual(rc, 0)
        self.assertLess(elapsed, 5)


if __name__ == "__main__":
    unittest.main()
