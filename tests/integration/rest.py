"""Helpers for the REST adapter's tests: a JSON client over real sockets,
publisher keys and JWTs made with python3-cryptography, API tokens made
with entitlementctl, and a check of every response against the OpenAPI
document in schemas/openapi.json."""
import base64
import http.client
import json
import os
import re
import time

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from jsonschema import Draft202012Validator, RefResolver

from harness import ROOT, ctl, make_user, token

KEY_PATH = "/flexnet/operations/api/updates/update-authorization-key"
STATUSLOG = "/uai/2.0/updates/statusLog"
DEVICE = "/dmps/status/4.0.0"

_doc = None


def openapi():
    global _doc
    if _doc is None:
        with open(os.path.join(ROOT, "schemas", "openapi.json")) as f:
            _doc = json.load(f)
    return _doc


def _template_matches(template, path):
    pattern = "^" + re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(template)) + "$"
    return re.match(pattern, path) is not None


def _resolve(node):
    doc = openapi()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def check_openapi(method, path, status, headers, body):
    """Fails unless the response is what the OpenAPI document says the
    operation answers: a documented status, and a body valid against its
    schema. Returns the operation's path template."""
    doc = openapi()
    templates = [t for t in doc["paths"] if _template_matches(t, path)]
    if not templates:
        # A path the adapter does not have: the NotFound answer.
        assert status == 404, f"{path[:100]} is not in the OpenAPI document, answered {status}"
        template, spec = None, _resolve({"$ref": "#/components/responses/NotFound"})
    else:
        # The most specific template (fewest parameters) wins.
        template = min(templates, key=lambda t: t.count("{"))
        item = doc["paths"][template]
        op = item.get(method.lower())
        if op is None:
            # A method the path does not have: the 405 answer.
            assert status == 405, f"{method} {template} undocumented, answered {status}"
            spec = _resolve({"$ref": "#/components/responses/MethodNotAllowed"})
        else:
            responses = op["responses"]
            spec = responses.get(str(status)) or responses.get("default")
            assert spec is not None, (f"{method} {template} answered {status}, which it does not document: "
                                      f"{body[:300]!r}")
            spec = _resolve(spec)
    content = spec.get("content")
    if not content:
        return template
    ctype = (headers.get("content-type") or "").split(";")[0].strip()
    media = content.get(ctype)
    assert media is not None, f"{method} {template} {status}: content type {ctype} not documented"
    schema = media.get("schema")
    if schema is None:
        return template
    value = json.loads(body) if ctype == "application/json" else body.decode()
    validator = Draft202012Validator(schema, resolver=RefResolver.from_schema(doc))
    errors = sorted(validator.iter_errors(value), key=lambda e: e.path)
    assert not errors, f"{method} {template} {status}: {errors[0].message} in {value!r:.500}"
    return template


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers   # lower-case names
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:400]!r}>"


class RestClient:
    """A keep-alive connection speaking JSON; checks every response against
    the OpenAPI document unless told not to."""

    def __init__(self, daemon, auth=None):
        self.daemon = daemon
        self.auth = auth
        self.conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)

    def close(self):
        self.conn.close()

    def request(self, method, path, body=None, headers=None, auth=True, check=True, raw=False):
        h = {}
        if body is not None and not raw:
            body = json.dumps(body).encode()
        if body is not None:
            h["Content-Type"] = "application/json"
        if auth and self.auth is not None:
            h["Authorization"] = self.auth
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()
            raise
        headers = {k.lower(): v for k, v in r.getheaders()}
        if headers.get("connection", "").lower() == "close":
            self.conn.close()
        reply = Reply(r.status, headers, data)
        if check:
            check_openapi(method, path.split("?")[0], r.status, headers, data)
        return reply

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PublisherKey:
    """A key pair of a publisher: RSA 2048 (RS256) or EC P-256 (ES256)."""

    def __init__(self, kind="RSA", bits=2048):
        self.kind = kind
        if kind == "RSA":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
        self.public = self.private.public_key()

    @property
    def alg(self):
        return "RS256" if self.kind == "RSA" else "ES256"

    def der_b64(self):
        der = self.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def pem(self):
        return self.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def signature(self, data):
        if self.kind == "RSA":
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = utils.decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def jwt(self, kid=None, alg=None, ttl=600, claims=None, header=None, drop=()):
        h = {"alg": alg or self.alg, "typ": "JWT"}
        if kid is not None:
            h["kid"] = kid
        h.update(header or {})
        c = {"exp": int(time.time()) + ttl, "iat": int(time.time())}
        c.update(claims or {})
        for k in drop:
            c.pop(k, None)
        signing = f"{b64u(json.dumps(h).encode())}.{b64u(json.dumps(c).encode())}"
        return f"{signing}.{b64u(self.signature(signing.encode()))}"


def hs256_jwt(secret, kid=None, alg="HS256", ttl=600):
    h = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        h["kid"] = kid
    c = {"exp": int(time.time()) + ttl}
    signing = f"{b64u(json.dumps(h).encode())}.{b64u(json.dumps(c).encode())}"
    mac = hmac.HMAC(secret, hashes.SHA256())
    mac.update(signing.encode())
    return f"{signing}.{b64u(mac.finalize())}"


def none_jwt(kid=None, alg="none"):
    h = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        h["kid"] = kid
    c = {"exp": int(time.time()) + 600}
    return f"{b64u(json.dumps(h).encode())}.{b64u(json.dumps(c).encode())}."


def bearer(t):
    return f"Bearer {t}"


class Publisher:
    """A publisher with one uploaded key (through the real PUT)."""

    def __init__(self, daemon, admin, kind="RSA", name=None, kid=None):
        self.name = name or "Pub-" + token(8)
        self.key = PublisherKey(kind)
        self.kid = kid or "kid-" + token(10)
        c = RestClient(daemon, admin.basic())
        r = c.request("PUT", KEY_PATH, {"publicKey": self.key.der_b64(), "publisherName": self.name,
                                        "kid": self.kid})
        c.close()
        assert r.status == 201, r

    def jwt(self, **kw):
        kw.setdefault("kid", self.kid)
        return self.key.jwt(**kw)

    def auth(self, **kw):
        return bearer(self.jwt(**kw))


def status_body(publisher, **over):
    body = {"id": "DEV-" + token(8), "idType": "MAC", "language": 0, "packageId": "PKG-1", "platform": "linux-x64",
            "publisherName": publisher, "statusCode": 4, "statusReason": "installed",
            "timeStamp": "2026-12-01T10:00:00Z", "updateId": "UPD-" + token(6), "updateName": "Update"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


def api_token(tenant=None, user=None):
    """A new API token (entitlementctl token add); returns (id, token)."""
    args = ["token", "add"] + (["--tenant", tenant] if tenant else ["--user", user])
    out = ctl(*args).stdout.strip().splitlines()
    tok = out[-1]
    m = re.search(r"token (\d+)", out[0])
    return int(m.group(1)), tok


def poll_until_done(client, url_or_path, auth, timeout=10):
    path = url_or_path.split("://", 1)[-1]
    path = path[path.index("/"):] if "://" in url_or_path else url_or_path
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = client.get(path, headers={"Authorization": auth}, auth=False)
        if r.status != 202:
            return r
        time.sleep(0.02)
    raise AssertionError(f"still 202 after {timeout} s: {path}")


def admin_user():
    return make_user(admin=True)
