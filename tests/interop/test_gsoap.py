"""Interop: gSOAP's own client, generated from our WSDL, against the daemon."""
import os
import subprocess
import unittest

from catalog import Catalog
from harness import PATH, DaemonTestCase, psql, token


class GsoapClientTest(DaemonTestCase):
    def test_create_upgrade_query(self):
        cat = Catalog()
        tag = token(10)
        r = subprocess.run([os.environ["GSOAP_CLIENT_BIN"], f"http://127.0.0.1:{self.daemon.port}{PATH}",
                            self.user.name, self.user.password, cat.base[0], cat.base[1], cat.upgrade[1], tag],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("wrong password refused", r.stdout)
        self.assertEqual(psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'",
                              "GL-" + tag), [["OBSOLETE", "0"]])


if __name__ == "__main__":
    unittest.main()
