"""entitlementctl against the test database."""
import unittest

from harness import ctl, psql, token


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

    def test_usage_errors(self):
        self.assertNotEqual(ctl(check=False).returncode, 0)
        self.assertNotEqual(ctl("frobnicate", check=False).returncode, 0)


if __name__ == "__main__":
    unittest.main()
