"""Commit groups (service/lifecycle/group.c) through the real daemon and
PostgreSQL: concurrent upgradeLicense and upsellLicense requests that share
one transaction still get their own answers, their own audit rows, atomic
units, and outcomes of some serial order."""
import unittest

from builders import change_item_xml, create_body, lifecycle_body
from catalog import Catalog
from harness import NS, DaemonTestCase, make_user, post_at_once, psql, token

# Enough concurrent requests to keep both in-flight groups busy, so that
# later ones queue up and are written together.
CLIENTS = 16


def nrows(sql, *params):
    return int(psql(sql, *params)[0][0])


class GroupTest(DaemonTestCase):
    daemon_env = {"ENTITLEMENTD_WORKERS": "16", "ENTITLEMENTD_DB_POOL_SIZE": "4",
                  "ENTITLEMENTD_COMMIT_GROUPS": "2", "ENTITLEMENTD_LOG_LEVEL": "debug"}
    grouped = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()
        cls.other_user = make_user()

    def entitlement(self, n_items=1, count=10):
        eid = "G-" + token(12)
        aids = [f"{eid}-L{i}" for i in range(n_items)]
        r = self.client.call(create_body([{"eid": eid, "items": [(a, self.cat.base, count) for a in aids]}]))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        return eid, aids

    def concurrently(self, bodies, users=None):
        """Posts the bodies at once, one connection each; returns the
        responses in the bodies' order."""
        results = post_at_once(self.daemon, bodies, [(users or {}).get(i, self.user) for i in range(len(bodies))])
        for r in results:
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200, r.body)
            self.assertFalse(r.is_fault, r.body)
        return results

    def groups_logged(self):
        return self.daemon.read_log().count("commit group of")

    def test_each_request_gets_its_own_answer_audit_and_atomic_units(self):
        before = self.groups_logged()
        for _ in range(4):
            bodies, plans, users = [], [], {}
            for i in range(CLIENTS):
                eid, aids = self.entitlement(n_items=2)
                new = [f"{aids[0]}-N", f"{aids[1]}-N"]
                units = [{"items": [change_item_xml(aids[0], new[0], self.cat.upgrade, count=3, allow=True)]},
                         {"items": [change_item_xml(aids[1], new[1], self.cat.upgrade, count=4, allow=True)]}]
                bad = i % 4 == 3
                if bad:  # its second unit names no line item: that unit alone fails
                    units[1] = {"items": [change_item_xml("missing-" + token(8), new[1], self.cat.upgrade)]}
                if i % 2:
                    users[i] = self.other_user
                bodies.append(lifecycle_body("upgradeLicense", units))
                plans.append((aids, new, bad))
            results = self.concurrently(bodies, users)
            # What the database holds for every line item of the round, and
            # the audit rows of the new ones, in two queries.
            every = ",".join(a for aids, new, _ in plans for a in aids + new)
            stored = {row[0]: row[1:] for row in psql(
                "SELECT activation_id, unique_id, number_of_copies FROM line_items "
                "WHERE activation_id = ANY (string_to_array(:'v1', ','))", every)}
            audit = {row[0]: row[1:] for row in psql(
                "SELECT new_activation_id, request_id, username FROM audit_log "
                "WHERE operation = 'upgradeLicense' AND new_activation_id = ANY (string_to_array(:'v1', ','))",
                ",".join(n for _, new, _ in plans for n in new))}
            for i, (r, (aids, new, bad)) in enumerate(zip(results, plans)):
                self.assertEqual(r.status_text, "PARTIAL_FAILURE" if bad else "SUCCESS", r.body)
                done = r.findall("f:responseData/f:entitlementData")
                self.assertEqual(len(done), 1 if bad else 2, r.body)
                for d in done:
                    unit = int(d.findtext(f"{{{NS}}}entitlementRecordRefNo")) - 1
                    li = d.find(f"{{{NS}}}createdLineItemData")
                    self.assertEqual(li.findtext(f"{{{NS}}}parentLineItemIdentifier/{{{NS}}}primaryKeys/"
                                                 f"{{{NS}}}activationId"), aids[unit])
                    self.assertEqual(li.findtext(f"{{{NS}}}parentLineItemIdentifier/{{{NS}}}uniqueId"),
                                     stored[aids[unit]][0])
                    new_aid = li.findtext(f"{{{NS}}}newLineItem/{{{NS}}}activationId")
                    self.assertEqual(new_aid, new[unit])
                    # The uniqueId answered is the one stored for that line item.
                    self.assertEqual(li.findtext(f"{{{NS}}}newLineItem/{{{NS}}}uniqueId"), stored[new_aid][0])
                # Its audit rows: its own request id (one for both units)
                # and its own user.
                user = (users.get(i) or self.user).name
                mine = {tuple(audit[n]) for n in new if n in audit}
                self.assertEqual(len(mine), 1, mine)
                self.assertEqual(next(iter(mine))[1], user)
                self.assertEqual(stored[aids[0]][1], "7")
                if bad:  # the failed unit left no trace
                    self.assertNotIn(new[1], stored)
                    self.assertNotIn(new[1], audit)
                    self.assertEqual(stored[aids[1]][1], "10")
            # Every request has a request id of its own.
            self.assertEqual(len({tuple(v)[0] for v in audit.values()}), CLIENTS)
        if self.grouped:
            self.assertGreater(self.groups_logged(), before, "no request shared a commit group")
        else:
            self.assertEqual(self.groups_logged(), 0)

    def test_same_new_activation_id_in_concurrent_requests(self):
        # Sixteen requests on sixteen parents all name one new activation id:
        # exactly one may have it, whichever order the group decided in.
        taken = "T-" + token(12)
        parents = [self.entitlement()[1][0] for _ in range(CLIENTS)]
        results = self.concurrently([lifecycle_body("upgradeLicense",
                                                    [{"items": [change_item_xml(p, taken, self.cat.upgrade)]}])
                                     for p in parents])
        ok = [r for r in results if r.status_text == "SUCCESS"]
        self.assertEqual(len(ok), 1, [r.reason_text for r in results])
        for r in results:
            if r is not ok[0]:
                reason = r.text("f:failedData/f:failedEntitlement/f:reason")
                self.assertTrue(reason.startswith("ACTIVATION_ID_EXISTS: "), r.body)
        self.assertEqual(nrows("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", taken), 1)
        self.assertEqual(nrows("SELECT count(*) FROM audit_log WHERE new_activation_id = :'v1'", taken), 1)
        # Only the winner's parent gave up a copy.
        counts = sorted(int(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", p)[0][0])
                        for p in parents)
        self.assertEqual(counts, [9] + [10] * (CLIENTS - 1))

    def test_request_naming_a_line_item_another_one_creates(self):
        # B upgrades the line item A creates. Sent together, the outcome is
        # one of the two serial orders: B first (not found), or A then B.
        for _ in range(6):
            _, (p,) = self.entitlement(count=10)
            made = p + "-A"
            a = lifecycle_body("upgradeLicense", [{"items": [change_item_xml(p, made, self.cat.upgrade, count=5,
                                                                              allow=True)]}])
            b = lifecycle_body("upsellLicense", [{"items": [change_item_xml(made, made + "-B", self.cat.upsell,
                                                                             count=2, allow=True)]}])
            ra, rb = self.concurrently([a, b])
            self.assertEqual(ra.status_text, "SUCCESS", ra.body)
            if rb.status_text == "SUCCESS":
                self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", made),
                                 [["3"]])
            else:
                self.assertTrue(rb.text("f:failedData/f:failedEntitlement/f:reason")
                                .startswith(("LINE_ITEM_NOT_FOUND: ", "NO_PRODUCT_RELATIONSHIP: ")), rb.body)
                self.assertEqual(nrows("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", made + "-B"), 0)

    def test_upgrades_and_upsells_of_one_parent_serialise(self):
        # Upgrades and upsells are grouped apart; on one parent with 10
        # copies, 16 requests of 1 copy each that retire nothing: exactly 10
        # succeed, the rest find too few copies, and the count adds up.
        _, (p,) = self.entitlement(count=10)
        bodies = [lifecycle_body("upgradeLicense" if i % 2 else "upsellLicense",
                                 [{"items": [change_item_xml(p, f"{p}-C{i}",
                                                             self.cat.upgrade if i % 2 else self.cat.upsell,
                                                             count=1, allow=True)]}])
                  for i in range(CLIENTS)]
        results = self.concurrently(bodies)
        ok = [r for r in results if r.status_text == "SUCCESS"]
        self.assertEqual(len(ok), 10, [r.reason_text for r in results])
        for r in results:
            if r.status_text != "SUCCESS":
                self.assertTrue(r.text("f:failedData/f:failedEntitlement/f:reason").startswith("INVALID_COUNT: "))
        self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", p), [["0"]])
        self.assertEqual(nrows("SELECT count(*) FROM line_items WHERE parent_id = "
                               "(SELECT id FROM line_items WHERE activation_id = :'v1')", p), 10)


class NoGroupTest(GroupTest):
    """The same outcomes with every request in a transaction of its own."""
    daemon_env = dict(GroupTest.daemon_env, ENTITLEMENTD_COMMIT_GROUPS="0")
    grouped = False


if __name__ == "__main__":
    unittest.main()
