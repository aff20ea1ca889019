"""The change feed (db/005): every line item a lifecycle operation creates
or changes, by product, through the real daemon and PostgreSQL. Each
operation gives the rows it should (and an upgrade its parent's too); a
failed unit gives none; and a reader that follows the feed with the xid
cursor while upgrades commit concurrently sees every change exactly once."""
import threading
import unittest

from builders import (change_item_xml, create_body, delete_body, lifecycle_body, renew_body, renew_item_xml,
                      set_entitlement_state_body, set_line_item_state_body)
from catalog import Catalog
from harness import Client, DaemonTestCase, psql, token


def feed(eid):
    """(operation, activation id, product name) of eid's feed rows, in order."""
    return [tuple(r) for r in psql(
        "SELECT c.operation, c.activation_id, p.name || ' ' || p.version FROM entitlement_changes c "
        "JOIN products p ON p.id = c.product_id WHERE c.entitlement_id = :'v1' ORDER BY c.id", eid)]


# The reader of subscription runs: the new cursor (the snapshot's xmin) and
# the rows with cursor <= xid < xmin.
# Always one row at least: the cursor comes from the same snapshot.
READ = ("WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x) "
        "SELECT s.x, c.id FROM s LEFT JOIN entitlement_changes c "
        "ON c.product_id = (SELECT id FROM products WHERE name = :'v1' AND version = :'v2') "
        "AND c.xid >= :'v3'::xid8 AND c.xid < s.x ORDER BY c.xid, c.id")


class ChangeFeedTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def create(self, n=2, count=10, product=None):
        eid = "F-" + token(10)
        aids = [f"{eid}-{i}" for i in range(n)]
        self.ok(create_body([{"eid": eid, "items": [(a, product or self.cat.base, count) for a in aids]}]))
        return eid, aids

    def test_each_operation_gives_its_rows(self):
        base = " ".join(self.cat.base)
        up = " ".join(self.cat.upgrade)
        eid, (a0, a1) = self.create()
        self.assertEqual(feed(eid), [("createSimpleEntitlement", a0, base), ("createSimpleEntitlement", a1, base)])
        self.ok(lifecycle_body("upgradeLicense", [{"items": [change_item_xml(a0, a0 + "-U", self.cat.upgrade, 2)]}]))
        self.ok(renew_body([{"items": [renew_item_xml(a1, a1 + "-R", term=(1, "YEARS"))]}]))
        self.ok(set_line_item_state_body([(a0 + "-U", "OBSOLETE", None)]))
        rows = feed(eid)[2:]
        self.assertEqual(sorted(rows[:2]), sorted([("upgradeLicense", a0 + "-U", up), ("upgradeLicense", a0, base)]))
        self.assertEqual(sorted(rows[2:4]), sorted([("renewLicense", a1 + "-R", base), ("renewLicense", a1, base)]))
        self.assertEqual(rows[4:], [("setLineItemState", a0 + "-U", up)])
        # The entitlement's state, then its deletion: every line item.
        n_before = len(feed(eid))
        self.ok(set_entitlement_state_body([(eid, "OBSOLETE")]))
        items = {a0, a1, a0 + "-U", a1 + "-R"}
        got = feed(eid)[n_before:]
        self.assertEqual({(o, a) for o, a, _ in got}, {("setEntitlementState", a) for a in items})
        self.ok(delete_body([eid]))
        got = feed(eid)[n_before + len(items):]
        self.assertEqual({(o, a) for o, a, _ in got}, {("deleteEntitlement", a) for a in items})

    def test_a_failed_unit_leaves_no_rows(self):
        eid, (a0, _) = self.create()
        before = feed(eid)
        # The second line item's product is not related: the unit fails whole.
        r = self.client.call(lifecycle_body("upgradeLicense", [{"items": [
            change_item_xml(a0, a0 + "-U", self.cat.upgrade, 1),
            change_item_xml(a0, a0 + "-X", self.cat.unrelated, 1)]}]))
        self.assertEqual(r.status_text, "FAILURE", r.body[:2000])
        self.assertEqual(feed(eid), before)

    def test_a_reader_sees_every_change_once_under_concurrent_commits(self):
        product = ("Feed-" + token(6), "1.0")
        from harness import ctl
        ctl("product", "add", *product)
        ctl("product", "add", product[0], "2.0")
        ctl("product", "relate", *product, product[0], "2.0", "UPGRADE")
        parents = [self.create(n=1, count=1000, product=product)[1][0] for _ in range(4)]
        stop = threading.Event()
        errors = []

        def writer(aid):
            c = Client(self.daemon, self.user)
            i = 0
            while not stop.is_set():
                i += 1
                r = c.call(lifecycle_body("upgradeLicense", [{"items": [
                    change_item_xml(aid, f"{aid}-{i}", (product[0], "2.0"), 1, allow=True)]}]))
                if r.status_text != "SUCCESS":
                    errors.append(r.body[:500])
                    break
            c.close()

        threads = [threading.Thread(target=writer, args=(a,)) for a in parents]
        for t in threads:
            t.start()
        seen, cursor = [], "0"
        try:
            for _ in range(40):
                rows = psql(READ, product[0], product[1], cursor)
                seen += [r[1] for r in rows if len(r) > 1 and r[1]]
                cursor = rows[0][0]
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        rows = psql(READ, product[0], product[1], cursor)
        seen += [r[1] for r in rows if len(r) > 1 and r[1]]
        every = [r[0] for r in psql("SELECT c.id FROM entitlement_changes c JOIN products p ON p.id = c.product_id "
                                    "WHERE p.name = :'v1' AND p.version = '1.0' ORDER BY c.id", product[0])]
        self.assertEqual(len(seen), len(set(seen)), "a change was read twice")
        self.assertEqual(sorted(seen, key=int), every)
        self.assertGreater(len(every), 4 + 20)


if __name__ == "__main__":
    unittest.main()
