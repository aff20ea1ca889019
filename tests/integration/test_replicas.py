"""Several daemons on one PostgreSQL, as replicas behind a load balancer:
started together on a database never migrated, they apply each migration
once; with requests spread over three of them, concurrent upgrades of one
parent serialise (no copy taken twice, none lost). (Jobs done once across
daemons: test_jobs.py; the two-package limit across two daemons:
test_packages.py.)"""
import os
import threading
import unittest

from builders import change_item_xml, create_body, lifecycle_body
from catalog import Catalog
from harness import Client, Daemon, make_user, psql, token


class ReplicasTest(unittest.TestCase):
    def test_three_daemons_started_together_migrate_once(self):
        schema = "replicas_" + token(8)
        psql(f"CREATE SCHEMA {schema}")
        url = os.environ["DATABASE_URL"] + f" options=-csearch_path={schema}"
        daemons = [Daemon(DATABASE_URL=url) for _ in range(3)]
        try:
            threads = [threading.Thread(target=d.start) for d in daemons]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rows = psql(f"SELECT version, count(*) FROM {schema}.schema_migrations GROUP BY version ORDER BY version")
            self.assertTrue(rows)
            self.assertTrue(all(n == "1" for _, n in rows), rows)
            self.assertEqual([int(v) for v, _ in rows], list(range(1, len(rows) + 1)))
            logs = [d.read_log() for d in daemons]
            self.assertTrue(all("entitlementd ready" in log for log in logs))
        finally:
            for d in daemons:
                self.assertEqual(d.stop(), 0)
            psql(f"DROP SCHEMA {schema} CASCADE")

    def test_upgrades_of_one_parent_spread_over_three_daemons_serialise(self):
        daemons = [Daemon().start() for _ in range(3)]
        try:
            cat, user = Catalog(), make_user()
            eid = "R-" + token(8)
            parent = eid + "-P"
            r = Client(daemons[0], user).call(create_body([{"eid": eid, "items": [(parent, cat.base, 10)]}]))
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            results, lock = [], threading.Lock()
            barrier = threading.Barrier(18)

            def upgrade(i):
                c = Client(daemons[i % 3], user)
                body = lifecycle_body("upgradeLicense", [
                    {"items": [change_item_xml(parent, f"{eid}-U{i}", cat.upgrade, count=1, allow=True)]}])
                barrier.wait()
                r = c.call(body)
                with lock:
                    results.append(r.status_text)

            threads = [threading.Thread(target=upgrade, args=(i,)) for i in range(18)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(results), ["FAILURE"] * 8 + ["SUCCESS"] * 10, results)
            rows = psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", parent)
            self.assertEqual(rows, [["0"]])
            new = psql("SELECT count(*), sum(number_of_copies) FROM line_items WHERE activation_id LIKE :'v1'",
                       eid + "-U%")
            self.assertEqual(new, [["10", "10"]])
        finally:
            for d in daemons:
                self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
