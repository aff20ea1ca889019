"""entitlementctl against the test database, and its health check
against a daemon."""
import http.server
import os
import subprocess
import tempfile
import threading
import unittest

from harness import CTL, Daemon, ctl, psql, token


def ctl_env(*args, stdin=None, **env):
    """entitlementctl with the environment changed: a value of None unsets."""
    full = dict(os.environ)
    for k, v in env.items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    return subprocess.run([CTL, *args], input=stdin, capture_output=True, text=True, env=full, timeout=60)


class CliTest(unittest.TestCase):
    def test_migrate_is_idempotent(self):
        self.assertEqual(ctl("migrate").returncode, 0)
        self.assertEqual(ctl("migrate").returncode, 0)
        self.assertEqual(psql("SELECT count(*) FROM schema_migrations WHERE version = 1"), [["1"]])

    def test_users(self):
        name = "cli" + token(8)
        ctl("user", "add", name, "--admin", stdin="s3cret\n")
        row = psql("SELECT password_hash, is_admin FROM users WHERE name = :'v1'", name)[0]
        self.assertTrue(row[0].startswith("$y$"), row[0])  # salted yescrypt, never plaintext
        self.assertNotIn("s3cret", row[0])
        self.assertEqual(row[1], "t")
        r = ctl("user", "add", name, stdin="again\n", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("exists", r.stderr)
        self.assertNotEqual(ctl("user", "add", "nopw" + token(6), stdin="", check=False).returncode, 0)
        self.assertEqual(ctl("user", "exists", name).returncode, 0)
        self.assertEqual(ctl("user", "exists", "missing" + token(6), check=False).returncode, 1)

    def test_products_and_relationships(self):
        p = "CliProd" + token(6)
        ctl("product", "add", p, "1")
        ctl("product", "add", p, "2")
        r = ctl("product", "add", p, "1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(ctl("product", "add", p, "1", "--if-missing").returncode, 0)
        ctl("product", "relate", p, "1", p, "2", "UPGRADE")
        r = ctl("product", "relate", p, "1", p, "3", "UPGRADE", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no such product", r.stderr)
        r = ctl("product", "relate", p, "1", p, "2", "SIDEGRADE", check=False)
        self.assertNotEqual(r.returncode, 0)
        hostile = "x'; DROP TABLE products; --"
        ctl("product", "add", hostile, "1", "--if-missing")
        self.assertEqual(psql("SELECT count(*) FROM products WHERE name = :'v1'", hostile), [["1"]])
        # Names every SOAP answer can carry: no characters XML forbids.
        for bad in (f"P\x01{p}", f"P\ufffe{p}", f"P\x1b[2J{p}", ""):
            with self.subTest(name=repr(bad)):
                r = ctl("product", "add", bad, "1", check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("XML allows", r.stderr)
        self.assertEqual(psql("SELECT count(*) FROM products WHERE name LIKE :'v1'", f"P%{p}"), [["0"]])
        ctl("product", "add", f"P\tTab \u00e9\U0001F600 {p}", "1")

    def test_password_from_a_file_and_if_missing(self):
        name = "clif" + token(8)
        with tempfile.NamedTemporaryFile("w", suffix=".pw") as f:
            f.write("fr0m-a-file\n")
            f.flush()
            r = ctl("user", "add", name, "--admin", "--password-file", f.name)
            self.assertIn("added", r.stdout)
            first = psql("SELECT password_hash FROM users WHERE name = :'v1'", name)
            # Again with --if-missing: exit 0, the user and its password kept.
            r = ctl("user", "add", name, "--password-file", f.name, "--if-missing")
            self.assertEqual(r.stdout, "")
            self.assertEqual(psql("SELECT password_hash FROM users WHERE name = :'v1'", name), first)
        r = ctl("user", "add", "nofile" + token(6), "--password-file", f.name, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f.name, r.stderr)

    def test_database_url_from_a_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".url") as f:
            f.write(os.environ["DATABASE_URL"] + "\n")
            f.flush()
            r = ctl_env("migrate", DATABASE_URL=None, DATABASE_URL_FILE=f.name)
            self.assertEqual(r.returncode, 0, r.stderr)
            name = "clidf" + token(6)
            r = ctl_env("user", "add", name, stdin="pw\n", DATABASE_URL=None, DATABASE_URL_FILE=f.name)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(psql("SELECT count(*) FROM users WHERE name = :'v1'", name), [["1"]])
            r = ctl_env("user", "exists", name, DATABASE_URL_FILE=f.name)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("DATABASE_URL and DATABASE_URL_FILE", r.stderr)
        r = ctl_env("user", "exists", "x", DATABASE_URL=None, DATABASE_URL_FILE=f.name)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"DATABASE_URL_FILE: cannot read '{f.name}'", r.stderr)

    def test_usage_errors(self):
        self.assertNotEqual(ctl(check=False).returncode, 0)
        self.assertNotEqual(ctl("frobnicate", check=False).returncode, 0)


class _Answer503(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class HealthTest(unittest.TestCase):
    """`entitlementctl health`: the container image's HEALTHCHECK."""

    def health(self, port, **env):
        return ctl_env("health", ENTITLEMENTD_PORT=str(port), **env)

    def test_ready_then_unreachable(self):
        d = Daemon().start()
        try:
            r = self.health(d.port)
            self.assertEqual((r.returncode, r.stdout), (0, "ready\n"), r.stderr)
            # Bound to every address, it is asked on the loopback one.
            r = self.health(d.port, ENTITLEMENTD_BIND="0.0.0.0")
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            self.assertEqual(d.stop(), 0)
        r = self.health(d.port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach the daemon", r.stderr)

    def test_not_ready_is_a_failure(self):
        server = http.server.HTTPServer(("127.0.0.1", 0), _Answer503)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            r = self.health(server.server_address[1])
        finally:
            server.shutdown()
            server.server_close()
        self.assertEqual(r.returncode, 1)
        self.assertIn("not ready: /readyz answered 503", r.stderr)

    def test_needs_no_database(self):
        r = self.health(1, DATABASE_URL="postgresql://127.0.0.1:1/none")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach the daemon at 127.0.0.1 port 1", r.stderr)


if __name__ == "__main__":
    unittest.main()
