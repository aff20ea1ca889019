"""Concurrent state changes, upgrades and renewals of one entitlement
through the real daemon and PostgreSQL: every transaction takes its row
locks in one order (entitlements, then line items, each in id order), so
they queue behind each other instead of deadlocking. Every request gets a
business answer (never a fault or HTTP 503), the copies add up, and
PostgreSQL detects no deadlock."""
import os
import re
import unittest

from builders import (change_item_xml, create_body, lifecycle_body, renew_body, renew_item_xml,
                      set_entitlement_state_body, set_line_item_state_body)
from catalog import Catalog
from harness import NS, DaemonTestCase, post_at_once, psql, token

# Outcomes a request may have when it loses a race: the entitlement or
# line item was INACTIVE at its turn, or too few copies were left.
ALLOWED_REASONS = ("INVALID_STATE: ", "INVALID_COUNT: ")
ROUNDS = 3
# What the daemon logs when it runs a unit or batch again, or gives up.
RETRY_LOGGED = re.compile(r"run again \(try \d+|\d+ tries")


def n(tag):
    return f"{{{NS}}}{tag}"


class PgLog:
    """The test cluster's server log (scripts/test puts it under
    ENTITLEMENTD_TEST_HOME/pg), read from where it ended when marked.
    None when the log cannot be read (another DATABASE_URL)."""

    def __init__(self):
        home = os.environ.get("ENTITLEMENTD_TEST_HOME")
        self.path = os.path.join(home, "pg", "postgresql.log") if home else None
        self.offset = None

    def mark(self):
        try:
            self.offset = os.path.getsize(self.path)
        except (OSError, TypeError):
            self.offset = None

    def since_mark(self):
        if self.offset is None:
            return None
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                return f.read().decode(errors="replace")
        except OSError:
            return None


class LockOrderTest(DaemonTestCase):
    # As many connections and workers as the QA probe had, so that the
    # requests really run at once in PostgreSQL.
    daemon_env = {"ENTITLEMENTD_WORKERS": "8", "ENTITLEMENTD_DB_POOL_SIZE": "8"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def setUp(self):
        super().setUp()
        self.pglog = PgLog()
        self.pglog.mark()
        self.daemon_log_at = len(self.daemon.read_log())

    def tearDown(self):
        super().tearDown()
        log = self.pglog.since_mark()
        if log is not None:
            deadlocks = [line for line in log.splitlines() if "deadlock detected" in line]
            self.assertEqual(deadlocks, [], log[:4000])
        # The daemon logs every unit or batch it has to run again (a
        # deadlock or serialization failure); in lock order there are none.
        retries = [line for line in self.daemon.read_log()[self.daemon_log_at:].splitlines()
                   if RETRY_LOGGED.search(line)]
        self.assertEqual(retries, [])

    def entitlement(self, count):
        eid = "K-" + token(12)
        aid = eid + "-P"
        self.ok(create_body([{"eid": eid, "items": [(aid, self.cat.base, count, {"expiration": "2027-12-31"})]}]))
        return eid, aid

    def concurrently(self, bodies):
        """Posts (kind, body) pairs at once, one connection each; returns
        (kind, response) pairs after checking that each is a business
        answer: HTTP 200, no fault, SUCCESS or a FAILURE whose reason is one
        a lost race may give."""
        results = post_at_once(self.daemon, [b for _, b in bodies], [self.user] * len(bodies))
        paths = {"upgrade": "f:failedData/f:failedEntitlement/f:reason",
                 "renew": "f:failedData/f:failedEntitlement/f:reason",
                 "ent_state": "f:failedData/f:failedEntitlement/f:reason",
                 "li_state": "f:failedData/f:failedLineItem/f:reason"}
        out = []
        for (kind, _), r in zip(bodies, results):
            self.assertIsNotNone(r, kind)
            self.assertNotEqual(r.status, 503, r.body)
            self.assertEqual(r.status, 200, r.body)
            self.assertFalse(r.is_fault, r.body)
            self.assertIn(r.status_text, ("SUCCESS", "FAILURE"), r.body)
            if r.status_text == "FAILURE":
                reason = r.text(paths[kind]) or ""
                self.assertTrue(reason.startswith(ALLOWED_REASONS), (kind, reason))
            out.append((kind, r))
        return out

    def assert_only_blocked_by_inactive(self, results):
        for kind, r in results:
            if kind == "li_state" and r.status_text != "SUCCESS":
                reason = r.text("f:failedData/f:failedLineItem/f:reason")
                self.assertTrue(reason.startswith("INVALID_STATE: ") and "is INACTIVE" in reason, reason)

    def copies(self, eid):
        """{activation id: (state, copies, parent activation id)} of every
        line item of entitlement eid."""
        rows = psql("SELECT li.activation_id, li.state, li.number_of_copies, coalesce(p.activation_id, '') "
                    "FROM line_items li JOIN entitlements e ON e.id = li.entitlement_id "
                    "LEFT JOIN line_items p ON p.id = li.parent_id WHERE e.entitlement_id = :'v1'", eid)
        return {a: (s, int(c), p) for a, s, c, p in rows}

    def audits(self, eid, operation):
        return int(psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1' AND operation = :'v2'",
                        eid, operation)[0][0])

    def test_upgrades_renewals_and_state_changes_of_one_entitlement(self):
        for _ in range(ROUNDS):
            eid, parent = self.entitlement(100)
            bodies = []
            for i in range(8):
                bodies.append(("upgrade", lifecycle_body("upgradeLicense", [{"items": [
                    change_item_xml(parent, f"{parent}-U{i}", self.cat.upgrade, count=3, allow=True)]}])))
                bodies.append(("renew", renew_body([{"items": [
                    renew_item_xml(parent, f"{parent}-R{i}", term=(1, "YEARS"), count=2)]}])))
                bodies.append(("ent_state", set_entitlement_state_body([(eid, "INACTIVE" if i % 2 else "DEPLOYED")])))
                bodies.append(("li_state", set_line_item_state_body([(parent, "DEPLOYED", True)])))
            results = self.concurrently(bodies)

            won = {k: sum(1 for kind, r in results if kind == k and r.status_text == "SUCCESS")
                   for k in ("upgrade", "renew", "ent_state", "li_state")}
            items = self.copies(eid)
            children = {a: v for a, v in items.items() if a != parent}
            # Every successful upgrade or renewal made one child, no failed
            # one left a trace, and the copies moved add up.
            self.assertEqual(len(children), won["upgrade"] + won["renew"], (won, items))
            self.assertTrue(all(p == parent for _, _, p in children.values()), items)
            self.assertEqual(sum(c for a, (_, c, _) in children.items() if a.startswith(parent + "-U")),
                             3 * won["upgrade"], items)
            self.assertEqual(sum(c for a, (_, c, _) in children.items() if a.startswith(parent + "-R")),
                             2 * won["renew"], items)
            self.assertEqual(sum(c for _, c, _ in items.values()), 100, items)
            self.assertEqual(self.audits(eid, "upgradeLicense"), won["upgrade"])
            self.assertEqual(self.audits(eid, "renewLicense"), won["renew"])
            # A state change is audited when it changes something (one to
            # the state the entitlement has, with nothing to cascade, is not).
            self.assertLessEqual(self.audits(eid, "setEntitlementState"), won["ent_state"])
            self.assert_no_noop_audits(eid)
            # No entitlement state request can fail here: each one's target
            # is reachable from whatever state the others left. A line item
            # cannot be deployed while its entitlement is INACTIVE: those
            # that ran then fail, and only those.
            self.assertEqual(won["ent_state"], 8, won)
            self.assert_only_blocked_by_inactive(results)

    def assert_no_noop_audits(self, eid):
        """No state change audited for an entitlement or line item that
        kept its state ("DEPLOYED -> DEPLOYED")."""
        self.assertEqual(psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1' AND operation LIKE 'set%' "
                              "AND split_part(detail, ' -> ', 1) = split_part(split_part(detail, ' -> ', 2), ' ', 1)",
                              eid), [["0"]])

    def test_entitlement_and_line_item_tree_state_changes(self):
        for _ in range(ROUNDS):
            eid, parent = self.entitlement(10)
            child, grandchild = parent + "-C", parent + "-G"
            self.ok(lifecycle_body("upgradeLicense", [{"items": [
                change_item_xml(parent, child, self.cat.upgrade, count=4, allow=True)]}]))
            self.ok(renew_body([{"items": [renew_item_xml(child, grandchild, term=(1, "YEARS"), count=1)]}]))
            bodies = []
            for i in range(16):
                state = "INACTIVE" if i % 2 else "DEPLOYED"
                bodies.append(("ent_state", set_entitlement_state_body([(eid, state)])))
                bodies.append(("li_state", set_line_item_state_body([(parent, state, True)])))
            results = self.concurrently(bodies)

            won = {k: sum(1 for kind, r in results if kind == k and r.status_text == "SUCCESS")
                   for k in ("ent_state", "li_state")}
            self.assertEqual(won["ent_state"], 16, won)
            self.assert_only_blocked_by_inactive(results)
            items = self.copies(eid)
            self.assertEqual({a: c for a, (_, c, _) in items.items()}, {parent: 6, child: 3, grandchild: 1})
            # The tree moved as one: the three line items end in one state.
            self.assertEqual(len({s for s, _, _ in items.values()}), 1, items)
            # At most one audit row per request for the entitlement, and
            # for the line item and each child, each only when it changed.
            self.assertLessEqual(self.audits(eid, "setEntitlementState"), 16)
            self.assertLessEqual(self.audits(eid, "setLineItemState"), won["li_state"] * 3)
            self.assert_no_noop_audits(eid)

    def test_units_naming_their_parents_in_opposite_orders(self):
        # A unit of two line items locks both parents before it changes
        # the first, whatever order it names them in.
        for _ in range(ROUNDS):
            eid = "K-" + token(12)
            a, b = eid + "-A", eid + "-B"
            self.ok(create_body([{"eid": eid, "items": [(x, self.cat.base, 100, {"expiration": "2027-12-31"})
                                                        for x in (a, b)]}]))
            bodies = []
            for i in range(8):
                first, second = (a, b) if i % 2 else (b, a)
                bodies.append(("renew", renew_body([{"items": [
                    renew_item_xml(p, f"{p}-R{i}", term=(1, "YEARS"), count=1) for p in (first, second)]}])))
                bodies.append(("upgrade", lifecycle_body("upgradeLicense", [{"items": [
                    change_item_xml(p, f"{p}-U{i}", self.cat.upgrade, count=1, allow=True)
                    for p in (first, second)]}])))
            results = self.concurrently(bodies)
            self.assertEqual([r.status_text for _, r in results], ["SUCCESS"] * len(bodies))
            items = self.copies(eid)
            self.assertEqual(items[a][1], 100 - 16, items)
            self.assertEqual(items[b][1], 100 - 16, items)
            self.assertEqual(len(items), 2 + 32, items)


class LockOrderNoGroupTest(LockOrderTest):
    """The same with every upgrade request in a transaction of its own."""
    daemon_env = dict(LockOrderTest.daemon_env, ENTITLEMENTD_COMMIT_GROUPS="0")


if __name__ == "__main__":
    unittest.main()
