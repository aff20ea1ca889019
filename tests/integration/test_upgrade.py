"""upgradeLicense through the real daemon and PostgreSQL: atomic units,
status aggregation, record numbers, reasons, concurrency, hostile input."""
import functools
import os
import subprocess
import threading
import time
import unittest

from builders import change_item_xml, create_body, lifecycle_body, renew_body, renew_item_xml
from catalog import Catalog
from harness import NS, Client, Daemon, DaemonTestCase, RowLock, end_backends_while, make_user, psql, token
from pgproxy import PgProxy


def nrows(sql, *params):
    return int(psql(sql, *params)[0][0])


class UpgradeTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def entitlement(self, n_items=1, count=10, auto_deploy=True, product=None):
        """Creates an entitlement with n_items line items; returns (eid, [aid...])."""
        eid = "E-" + token(12)
        aids = [f"{eid}-L{i}" for i in range(n_items)]
        body = create_body([{"eid": eid, "items": [(a, product or self.cat.base, count) for a in aids],
                             "auto_deploy": auto_deploy}])
        r = self.client.call(body)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        return eid, aids

    def upgrade(self, units, op="upgradeLicense"):
        r = self.client.call(lifecycle_body(op, units))
        self.assertEqual(r.status, 200, r.body)
        self.assertFalse(r.is_fault, r.body)
        return r

    def item(self, parent, **kw):
        kw.setdefault("product", self.cat.upgrade)
        return change_item_xml(parent, kw.pop("new_aid", "N-" + token(12)), **kw)

    def reasons(self, r):
        return [e.findtext(f"{{{NS}}}reason") for e in r.findall("f:failedData/f:failedEntitlement")]

    def test_partial_failure_leaves_no_trace_of_the_failed_unit(self):
        units, parents = [], []
        for u in range(3):
            eid, aids = self.entitlement(n_items=3)
            parents.append((eid, aids))
            new = [f"{eid}-NEW{i}" for i in range(3)]
            items = [self.item(aids[i], new_aid=new[i], count=2, allow=True) for i in range(3)]
            if u == 1:  # the middle unit: one bad line item of three
                items[1] = self.item("no-such-" + token(8), new_aid=new[1])
            units.append({"ent": eid, "items": items})
        audit_before = nrows("SELECT count(*) FROM audit_log")
        r = self.upgrade(units)
        self.assertEqual(r.status_text, "PARTIAL_FAILURE")
        self.assertIn("1 of 3", r.reason_text)

        failed = r.findall("f:failedData/f:failedEntitlement")
        self.assertEqual(len(failed), 1)
        reason = failed[0].findtext(f"{{{NS}}}reason")
        self.assertTrue(reason.startswith("LINE_ITEM_NOT_FOUND: "), reason)
        # The failed unit is echoed back unchanged.
        echoed = failed[0].find(f"{{{NS}}}entitlementData")
        self.assertEqual(echoed.findtext(f"{{{NS}}}parentEntitlementIdentifier/{{{NS}}}primaryKeys/{{{NS}}}entitlementId"),
                         parents[1][0])
        self.assertEqual(len(echoed.findall(f"{{{NS}}}lineItemData")), 3)

        done = r.findall("f:responseData/f:entitlementData")
        self.assertEqual([d.findtext(f"{{{NS}}}entitlementRecordRefNo") for d in done], ["1", "3"])
        for d, (eid, aids) in zip(done, (parents[0], parents[2])):
            pe = d.find(f"{{{NS}}}parentEntitlementIdentifier")
            self.assertTrue(pe.findtext(f"{{{NS}}}uniqueId").startswith("HID-"))
            self.assertEqual(pe.findtext(f"{{{NS}}}primaryKeys/{{{NS}}}entitlementId"), eid)
            items = d.findall(f"{{{NS}}}createdLineItemData")
            self.assertEqual([i.findtext(f"{{{NS}}}lineItemRecordRefNo") for i in items], ["1", "2", "3"])
            for i, aid in zip(items, aids):
                p = i.find(f"{{{NS}}}parentLineItemIdentifier")
                self.assertEqual(p.findtext(f"{{{NS}}}primaryKeys/{{{NS}}}activationId"), aid)
                uid = p.findtext(f"{{{NS}}}uniqueId")
                self.assertEqual(psql("SELECT activation_id FROM line_items WHERE unique_id = :'v1'", uid)[0][0], aid)
                new = i.find(f"{{{NS}}}newLineItem")
                self.assertEqual(psql("SELECT unique_id, line_item_type, number_of_copies FROM line_items "
                                      "WHERE activation_id = :'v1'", new.findtext(f"{{{NS}}}activationId")),
                                 [[new.findtext(f"{{{NS}}}uniqueId"), "UPGRADE", "2"]])
        # The middle unit: no new line item, parents untouched, no audit row.
        middle_eid, middle_aids = parents[1]
        self.assertEqual(nrows("SELECT count(*) FROM line_items WHERE activation_id LIKE :'v1'",
                               middle_eid + "-NEW%"), 0)
        self.assertEqual(psql("SELECT DISTINCT li.state, number_of_copies FROM line_items li JOIN entitlements e "
                              "ON e.id = li.entitlement_id WHERE e.entitlement_id = :'v1'", middle_eid),
                         [["DEPLOYED", "10"]])
        self.assertEqual(nrows("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1' "
                               "AND operation = 'upgradeLicense'", middle_eid), 0)
        self.assertEqual(nrows("SELECT count(*) FROM audit_log") - audit_before, 6)

    def test_a_lock_held_outside_holds_up_only_its_own_parent(self):
        """A parent row locked by a transaction outside the service: the
        upgrades that need it fail LOCK_TIMEOUT after
        ENTITLEMENTD_DB_LOCK_TIMEOUT_MS with nothing applied, and those of
        other parents, queued behind them in the commit groups, are done
        meanwhile (they waited for as long as the lock was held)."""
        d = Daemon(ENTITLEMENTD_DB_LOCK_TIMEOUT_MS="1500").start()
        locker = None
        try:
            _, (locked,) = self.entitlement()
            others = [self.entitlement()[1][0] for _ in range(4)]
            locker = RowLock(locked)
            done, started = {}, time.monotonic()

            def call(key, parent, delay):
                time.sleep(delay)
                c = Client(d, self.user)
                r = c.call(lifecycle_body("upgradeLicense", [{"items": [self.item(parent, count=1, allow=True)]}]))
                done[key] = (r, time.monotonic() - started)
                c.close()
            # Two on the locked parent take both commit groups' turns.
            calls = [threading.Thread(target=call, args=(f"locked{i}", locked, 0.05 * i)) for i in range(2)]
            calls += [threading.Thread(target=call, args=(a, a, 0.3)) for a in others]
            for t in calls:
                t.start()
            for t in calls:
                t.join(timeout=60)
            for i in range(2):
                r, _ = done[f"locked{i}"]
                self.assertEqual(r.status_text, "FAILURE", r.body)
                self.assertTrue(self.reasons(r)[0].startswith("LOCK_TIMEOUT: "), self.reasons(r))
            for a in others:
                r, took = done[a]
                self.assertEqual(r.status_text, "SUCCESS", r.body)
                self.assertLess(took, 20)
            # Still held: nothing of the failed ones was applied.
            self.assertEqual(locker.end(), 0)
            self.assertEqual(psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'",
                                  locked), [["DEPLOYED", "10"]])
            self.assertEqual(nrows("SELECT count(*) FROM line_items WHERE parent_id = (SELECT id FROM line_items "
                                   "WHERE activation_id = :'v1')", locked), 0)
        finally:
            if locker is not None:
                locker.end()
            self.assertEqual(d.stop(), 0)

    def test_the_options_of_database_url_are_kept(self):
        # The daemon's own options go around them (they were replaced),
        # and its lock timeout gives way to theirs: an upgrade of a locked
        # parent fails after 300 ms, not after a minute.
        _, (aid,) = self.entitlement()
        url = os.environ["DATABASE_URL"] + " options='-c lock_timeout=300'"
        d = Daemon(DATABASE_URL=url, ENTITLEMENTD_DB_LOCK_TIMEOUT_MS="60000").start()
        locker = RowLock(aid)
        try:
            c = Client(d, self.user)
            r = c.call(lifecycle_body("upgradeLicense", [{"items": [self.item(aid, count=1, allow=True)]}]))
            c.close()
            self.assertEqual(r.status_text, "FAILURE", r.body)
            self.assertTrue(self.reasons(r)[0].startswith("LOCK_TIMEOUT: "), self.reasons(r))
        finally:
            locker.end()
            self.assertEqual(d.stop(), 0)

    def test_a_statement_past_the_statement_timeout_is_cancelled(self):
        # With no lock timeout, the statement timeout ends the wait for a
        # locked parent: PostgreSQL cancels the statement (before the
        # daemon's own watch, 2 s later, would close the connection), and
        # the request is a 503 DATABASE_UNAVAILABLE fault, nothing applied.
        _, (aid,) = self.entitlement()
        d = Daemon(ENTITLEMENTD_DB_LOCK_TIMEOUT_MS="0", ENTITLEMENTD_DB_STATEMENT_TIMEOUT_MS="800").start()
        locker = RowLock(aid)
        try:
            c = Client(d, self.user)
            started = time.monotonic()
            r = c.call(lifecycle_body("upgradeLicense", [{"items": [self.item(aid, count=1, allow=True)]}]))
            took = time.monotonic() - started
            c.close()
            self.assertEqual(r.status, 503, r.body)
            self.assertTrue(r.faultstring.startswith("DATABASE_UNAVAILABLE: "), r.body)
            self.assertLess(took, 2.5)
            self.assertIn("canceling statement due to statement timeout", d.read_log())
            self.assertNotIn("no answer in", d.read_log())
        finally:
            self.assertEqual(locker.end(), 0)
            self.assertEqual(d.stop(), 0)
        self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["10"]])
        self.assertEqual(nrows("SELECT count(*) FROM line_items WHERE parent_id = (SELECT id FROM line_items "
                               "WHERE activation_id = :'v1')", aid), 0)

    def test_audit_and_feed_rows_follow_the_units_order(self):
        # Audit rows are numbered in the units' order, and each unit's feed
        # rows follow its audit row, the new line item before its parent.
        eid, aids = self.entitlement(n_items=12)
        order = [aids[i] for i in (7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 6, 4)]
        new = {aid: "N-" + token(12) for aid in order}
        self.assertEqual(self.upgrade([{"items": [self.item(aid, new_aid=new[aid])]} for aid in order])
                         .status_text, "SUCCESS")
        audit = psql("SELECT id, parent_activation_id, new_activation_id FROM audit_log "
                     "WHERE entitlement_id = :'v1' AND operation = 'upgradeLicense' ORDER BY id", eid)
        self.assertEqual([(a[1], a[2]) for a in audit], [(aid, new[aid]) for aid in order])
        feed = psql("SELECT c.audit_id, c.activation_id FROM entitlement_changes c JOIN audit_log a "
                    "ON a.id = c.audit_id WHERE a.entitlement_id = :'v1' AND a.operation = 'upgradeLicense' "
                    "ORDER BY c.id", eid)
        self.assertEqual(feed, [[a[0], x] for a in audit for x in (a[2], a[1])])

    def test_all_failed_is_failure(self):
        r = self.upgrade([{"items": [self.item("missing-" + token(8))]},
                          {"items": [self.item("missing-" + token(8))]}])
        self.assertEqual(r.status_text, "FAILURE")
        self.assertEqual(len(r.findall("f:failedData/f:failedEntitlement")), 2)
        self.assertIsNone(r.find("f:responseData/f:entitlementData"))

    def test_a_line_item_without_a_product_is_an_invalid_request(self):
        # No product element, and an empty one: neither names a product.
        eid, (aid,) = self.entitlement(count=5)
        for product in ("", "<v4:product/>"):
            item = (f"<v4:lineItem><v4:activationId><v4:autoGenerate>true</v4:autoGenerate></v4:activationId>"
                    f"{product}<v4:numberOfCopies>1</v4:numberOfCopies></v4:lineItem>")
            r = self.upgrade([{"items": [change_item_xml(aid, None, None, item=item)]}])
            self.assertEqual(self.reasons(r), ["INVALID_REQUEST: lineItem 1 has no product"], r.body)
        self.assertEqual(psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'", aid),
                         [["DEPLOYED", "5"]])

    def test_empty_request_is_failure(self):
        r = self.upgrade([])
        self.assertEqual(r.status_text, "FAILURE")

    def test_full_upgrade_moves_the_whole_count_and_retires_the_parent(self):
        eid, (aid,) = self.entitlement(count=7)
        r = self.upgrade([{"items": [self.item(aid, new_aid=aid + "-UP", is_full=True)]}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'", aid),
                         [["OBSOLETE", "0"]])
        self.assertEqual(psql("SELECT state, number_of_copies, line_item_type FROM line_items "
                              "WHERE activation_id = :'v1'", aid + "-UP"), [["DEPLOYED", "7", "UPGRADE"]])
        # Without autoDeploy the new line item is a DRAFT.
        eid2, (aid2,) = self.entitlement(count=3)
        r = self.upgrade([{"items": [self.item(aid2, new_aid=aid2 + "-UP", count=1, auto_deploy=None)]}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT state FROM line_items WHERE activation_id = :'v1'", aid2 + "-UP"), [["DRAFT"]])

    def test_generated_activation_id(self):
        eid, (aid,) = self.entitlement()
        r = self.upgrade([{"items": [change_item_xml(aid, None, self.cat.upgrade, count=1, auto=True, allow=True)]}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        new = r.text("f:responseData/f:entitlementData/f:createdLineItemData/f:newLineItem/f:activationId")
        self.assertRegex(new, r"^[a-z0-9]{4}(-[a-z0-9]{4}){7}$")

    def test_counts(self):
        eid, (aid,) = self.entitlement(count=5)
        for bad in (0, 6, -1):
            r = self.upgrade([{"items": [self.item(aid, count=bad, allow=True)]}])
            self.assertEqual(r.status_text, "FAILURE")
            self.assertTrue(self.reasons(r)[0].startswith("INVALID_COUNT: "), r.body)
        r = self.upgrade([{"items": [self.item(aid, count=5, allow=True)]}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)

    def test_counts_beyond_64_bits_fail_their_unit(self):
        # An xsd:integer has no bound: one beyond 64 bits can be read, and
        # fails its unit as any count out of range does (it was a Client
        # fault that refused the request's other units too).
        _, (big,) = self.entitlement(count=5)
        for huge in ("9223372036854775808", "-9223372036854775809", " 99999999999999999999 "):
            with self.subTest(huge=huge):
                _, (ok,) = self.entitlement(count=5)
                good, new = "N-" + token(12), "N-" + token(12)
                r = self.upgrade([{"items": [self.item(ok, new_aid=good, count=1, allow=True)]},
                                  {"items": [self.item(big, new_aid=new, count=huge, allow=True)]}])
                self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
                self.assertEqual(self.reasons(r), [f"INVALID_COUNT: numberOfCopies {huge.strip()} is not between 1 "
                                                   f"and the 5 copies of line item '{big}'"])
                # Echoed as it was sent (a valid xsd:integer).
                self.assertEqual(r.text("f:failedData/f:failedEntitlement/f:entitlementData/f:lineItemData/f:lineItem/"
                                        "f:numberOfCopies"), huge.strip())
                self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id IN (:'v1', :'v2')", good,
                                      new), [["1"]])

    def test_reasons(self):
        eid, (aid,) = self.entitlement()
        other_eid, (other_aid,) = self.entitlement()
        draft_eid, (draft_aid,) = self.entitlement(auto_deploy=False)
        cases = [
            ([{"items": [self.item(aid, product=("Nope-" + token(6), "9"))]}], "PRODUCT_NOT_FOUND"),
            ([{"items": [self.item(aid, product=self.cat.unrelated)]}], "NO_PRODUCT_RELATIONSHIP"),
            ([{"items": [self.item(aid, product=self.cat.upsell)]}], "NO_PRODUCT_RELATIONSHIP"),
            ([{"items": [self.item(draft_aid)]}], "INVALID_STATE"),
            ([{"ent": "missing-" + token(6), "items": [self.item(aid)]}], "ENTITLEMENT_NOT_FOUND"),
            ([{"ent": other_eid, "items": [self.item(aid)]}], "LINE_ITEM_NOT_IN_ENTITLEMENT"),
            # Without parentEntitlementIdentifier, one entitlement per unit:
            # its first parent's.
            ([{"items": [self.item(aid, allow=True), self.item(other_aid, allow=True)]}],
             "LINE_ITEM_NOT_IN_ENTITLEMENT"),
            ([{"items": [self.item(aid, new_aid="bad/id")]}], "INVALID_ACTIVATION_ID"),
            ([{"items": [self.item(aid, product=None)]}], "INVALID_REQUEST"),
        ]
        for units, code in cases:
            with self.subTest(code=code):
                r = self.upgrade(units)
                self.assertEqual(r.status_text, "FAILURE", r.body)
                self.assertTrue(self.reasons(r)[0].startswith(code + ": "), r.body)
        # The reason names the product asked for, not only the parent.
        r = self.upgrade([{"items": [self.item(aid, product=self.cat.unrelated)]}])
        self.assertIn(f"line item '{aid}' to product '{self.cat.unrelated[0]}' version '{self.cat.unrelated[1]}'",
                      self.reasons(r)[0])
        # A product named by a uniqueId and primaryKeys that disagree: said so
        # (the upsell product's uniqueId, the upgrade product's name).
        uid = psql("SELECT unique_id FROM products WHERE name = :'v1' AND version = :'v2'", *self.cat.upsell)[0][0]
        item = self.item(aid).replace("<v4:product><v4:primaryKeys>",
                                      f"<v4:product><v4:uniqueId>{uid}</v4:uniqueId><v4:primaryKeys>")
        self.assertIn(uid, item)
        r = self.upgrade([{"items": [item]}])
        self.assertEqual(self.reasons(r)[0], f"PRODUCT_NOT_FOUND: no product with uniqueId '{uid}' that is product "
                                             f"'{self.cat.upgrade[0]}' version '{self.cat.upgrade[1]}' (both "
                                             f"identifiers must name the same product)", r.body)
        # A parent named by an empty uniqueId only, or by nothing: said so.
        r = self.upgrade([{"items": [self.item(None, parent_uid="")]}])
        self.assertEqual(self.reasons(r)[0], "LINE_ITEM_NOT_FOUND: no line item with uniqueId '' (an empty uniqueId "
                                             "names no line item)", r.body)
        r = self.upgrade([{"items": [self.item(None)]}])
        self.assertEqual(self.reasons(r)[0], "LINE_ITEM_NOT_FOUND: no line item named: the identifier has no "
                                             "uniqueId and no activationId", r.body)
        self.assertEqual(psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'", aid),
                         [["DEPLOYED", "10"]])
        self.assertEqual(psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'",
                              other_aid), [["DEPLOYED", "10"]])

    def test_the_reason_is_the_first_failing_line_items_in_request_order(self):
        # A line item that fails before the database is asked (a text over
        # its limit, an activation id named twice) does not hide an earlier
        # line item's failure; nothing is written either way.
        eid, (a, b) = self.entitlement(n_items=2)
        long_order = "o" * 256
        dup = "DUP-" + token(10)
        cases = [
            ([self.item("nope-" + token(6), allow=True), self.item(b, allow=True, order_id=long_order)],
             "LINE_ITEM_NOT_FOUND: "),
            ([self.item(a, count=99, allow=True), self.item(b, allow=True, order_id=long_order)], "INVALID_COUNT: "),
            ([self.item(a, product=("Nope-" + token(6), "9"), allow=True),
              self.item(b, new_aid=dup, allow=True), self.item(b, new_aid=dup, allow=True)], "PRODUCT_NOT_FOUND: "),
            # The first line item's own problem still comes first.
            ([self.item(a, allow=True, order_id=long_order), self.item("nope-" + token(6), allow=True)],
             "INVALID_REQUEST: lineItemData[1]/lineItem/orderId is longer than 255 characters"),
            # All earlier line items pass: the later one's problem is the reason.
            ([self.item(a, count=1, allow=True), self.item(b, allow=True, order_id=long_order)],
             "INVALID_REQUEST: lineItemData[2]/lineItem/orderId is longer than 255 characters"),
        ]
        for items, reason in cases:
            with self.subTest(reason=reason):
                r = self.upgrade([{"items": items}])
                self.assertEqual(r.status_text, "FAILURE", r.body)
                self.assertTrue(self.reasons(r)[0].startswith(reason), (reason, self.reasons(r)))
        # renewLicense alike.
        r = self.client.call(renew_body([{"items": [renew_item_xml("nope-" + token(6)),
                                                    renew_item_xml(b, extra=f"<v4:orderId>{long_order}</v4:orderId>")]}]))
        self.assertEqual(r.status_text, "FAILURE", r.body)
        self.assertTrue(self.reasons(r)[0].startswith("LINE_ITEM_NOT_FOUND: "), self.reasons(r))
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE entitlement_id = "
                              "(SELECT id FROM entitlements WHERE entitlement_id = :'v1')", eid), [["2"]])
        self.assertEqual(psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'", a),
                         [["DEPLOYED", "10"]])
        # In request order means after the units before it too: the first
        # unit upgrades all of c (OBSOLETE then), so the second fails on
        # its first line item, not on its second's text.
        _, (c, d) = self.entitlement(n_items=2)
        r = self.upgrade([{"items": [self.item(c, count=10)]},
                          {"items": [self.item(c, count=1, allow=True), self.item(d, allow=True, order_id=long_order)]}])
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        self.assertTrue(self.reasons(r)[0].startswith("INVALID_STATE: line item '" + c), self.reasons(r))

    def test_upsell_uses_upsell_relationships(self):
        eid, (aid,) = self.entitlement()
        r = self.upgrade([{"items": [self.item(aid, product=self.cat.upsell, count=1, allow=True)]}],
                         op="upsellLicense")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        new = r.text("f:responseData/f:entitlementData/f:createdLineItemData/f:newLineItem/f:activationId")
        self.assertEqual(psql("SELECT line_item_type FROM line_items WHERE activation_id = :'v1'", new), [["UPSELL"]])

    def test_a_product_reached_from_several_products(self):
        # Two products upgrade to one; a third does only by UPSELL. One
        # request upgrades a parent of each of the first two and one of the
        # third, in units of their own.
        cat = Catalog()
        ctl = __import__("harness").ctl
        ctl("product", "relate", *cat.unrelated, *cat.upgrade, "UPGRADE")
        ctl("product", "relate", *cat.upsell, *cat.upgrade, "UPSELL")
        _, (from_base,) = self.entitlement(product=cat.base)
        _, (from_other,) = self.entitlement(product=cat.unrelated)
        _, (from_pro,) = self.entitlement(product=cat.upsell)
        r = self.upgrade([{"items": [self.item(aid, product=cat.upgrade, count=1, allow=True)]}
                          for aid in (from_base, from_other, from_pro)])
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        self.assertEqual(len(self.reasons(r)), 1, r.body)
        self.assertTrue(self.reasons(r)[0].startswith("NO_PRODUCT_RELATIONSHIP: "), r.body)
        self.assertIn(from_pro, self.reasons(r)[0])
        self.assertEqual(psql("SELECT activation_id, number_of_copies FROM line_items WHERE activation_id IN "
                              "(:'v1', :'v2', :'v3') ORDER BY activation_id", from_base, from_other, from_pro),
                         sorted([[from_base, "9"], [from_other, "9"], [from_pro, "10"]]))

    def test_parent_by_unique_id_and_both_identifiers(self):
        eid, (aid,) = self.entitlement()
        uid = psql("SELECT unique_id FROM line_items WHERE activation_id = :'v1'", aid)[0][0]
        r = self.upgrade([{"items": [self.item(None, parent_uid=uid, count=1, allow=True)]}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(r.text("f:responseData/f:entitlementData/f:createdLineItemData/f:parentLineItemIdentifier"
                                "/f:primaryKeys/f:activationId"), aid)
        # Identifiers that disagree name nothing (the code), and the reason says so.
        other_eid, (other,) = self.entitlement()
        r = self.upgrade([{"items": [self.item(other, parent_uid=uid, count=1, allow=True)]}])
        self.assertEqual(self.reasons(r)[0],
                         f"LINE_ITEM_NOT_FOUND: uniqueId '{uid}' and activationId '{other}' do not name the same "
                         f"line item (uniqueId '{uid}' is activationId '{aid}')")
        # A uniqueId that names nothing is the one named.
        r = self.upgrade([{"items": [self.item(aid, parent_uid="HID-0", count=1, allow=True)]}])
        self.assertEqual(self.reasons(r)[0], "LINE_ITEM_NOT_FOUND: no line item with uniqueId 'HID-0'")
        # The same for the entitlement.
        euid = psql("SELECT unique_id FROM entitlements WHERE entitlement_id = :'v1'", eid)[0][0]
        r = self.upgrade([{"ent": other_eid, "ent_uid": euid, "items": [self.item(aid, count=1, allow=True)]}])
        self.assertEqual(self.reasons(r)[0],
                         f"ENTITLEMENT_NOT_FOUND: uniqueId '{euid}' and entitlementId '{other_eid}' do not name the "
                         f"same entitlement (uniqueId '{euid}' is entitlementId '{eid}')")
        r = self.upgrade([{"ent": eid, "ent_uid": euid, "items": [self.item(aid, count=1, allow=True)]}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)

    def test_duplicate_activation_ids(self):
        eid, aids = self.entitlement(n_items=2)
        dup = "DUP-" + token(10)
        r = self.upgrade([{"items": [self.item(aids[0], new_aid=dup, count=1, allow=True)]},
                          {"items": [self.item(aids[1], new_aid=dup, count=1, allow=True)]}])
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        self.assertTrue(self.reasons(r)[0].startswith("DUPLICATE_IN_REQUEST: "), r.body)
        self.assertEqual(r.text("f:responseData/f:entitlementData/f:entitlementRecordRefNo"), "1")
        # Within one unit too.
        r = self.upgrade([{"items": [self.item(aids[0], new_aid=dup + "b", count=1, allow=True),
                                     self.item(aids[1], new_aid=dup + "b", count=1, allow=True)]}])
        self.assertTrue(self.reasons(r)[0].startswith("DUPLICATE_IN_REQUEST: "), r.body)
        # Across requests: the id is taken.
        r = self.upgrade([{"items": [self.item(aids[1], new_aid=dup, count=1, allow=True)]}])
        self.assertEqual(r.status_text, "FAILURE")
        self.assertTrue(self.reasons(r)[0].startswith("ACTIVATION_ID_EXISTS: "), r.body)
        # ...also against an id created by createSimpleEntitlement.
        r = self.upgrade([{"items": [self.item(aids[1], new_aid=aids[0], count=1, allow=True)]}])
        self.assertTrue(self.reasons(r)[0].startswith("ACTIVATION_ID_EXISTS: "), r.body)

    def test_hostile_identifiers_change_nothing(self):
        eid, (aid,) = self.entitlement()
        before = psql("SELECT count(*), sum(number_of_copies) FROM line_items")
        audit = nrows("SELECT count(*) FROM audit_log")
        # As parents they name nothing: no pattern matching, no injection.
        for h in ["x' OR '1'='1", "%", "a\\b", "'; DROP TABLE line_items; --", "x" * 256,
                  aid[:-1] + "_", aid[:-2] + "%"]:
            with self.subTest(parent=h):
                r = self.upgrade([{"items": [self.item(h)]}])
                self.assertEqual(r.status_text, "FAILURE", r.body)
                self.assertTrue(self.reasons(r)[0].startswith("LINE_ITEM_NOT_FOUND: "), r.body)
        # As new activation ids they break the contract's syntax.
        for h in ["%", "a\\b", "x" * 256, "a/b", "x.y", "<x>", "a\tb",
                  # Empty after trimming white space; control characters (DEL, C1, separators).
                  "", " ", "  \u00a0 ", "\u3000", "a\x7fb", "a\u0080b", "a\u0085b", "a\u009fb", "a\u2028b",
                  "a\u2029b"]:
            with self.subTest(new=h):
                r = self.upgrade([{"items": [self.item(aid, new_aid=h)]}])
                self.assertEqual(r.status_text, "FAILURE", r.body)
                self.assertTrue(self.reasons(r)[0].startswith("INVALID_ACTIVATION_ID: "), r.body)
        # Invalid UTF-8 cannot even be read: a Client fault.
        raw = lifecycle_body("upgradeLicense", [{"items": [self.item(aid)]}]).encode()
        raw = raw.replace(aid.encode(), aid.encode() + b"\xff\xfe")
        from harness import envelope
        r = self.client.raw(envelope("").replace(b"<soapenv:Body></soapenv:Body>",
                                                 b"<soapenv:Body>" + raw + b"</soapenv:Body>"))
        self.assertEqual(r.status, 500)
        self.assertEqual(r.faultcode, "SOAP-ENV:Client")
        # Where, as the other malformed-request faults say it.
        at = raw.index(b"\xff") + len(b"<soapenv:Body>") + envelope("").index(b"<soapenv:Body>")
        self.assertEqual(r.faultstring, f"malformed request: not valid UTF-8 at byte {at} of the body")
        self.assertEqual(psql("SELECT count(*), sum(number_of_copies) FROM line_items"), before)
        self.assertEqual(nrows("SELECT count(*) FROM audit_log"), audit)
        self.assertEqual(nrows("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", aid), 1)
        # Quotes, semicolons and underscores are allowed in ids: stored verbatim.
        odd = "x' OR 1; -- _" + token(6)
        r = self.upgrade([{"items": [self.item(aid, new_aid=odd, count=1, allow=True)]}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT activation_id FROM line_items WHERE activation_id = :'v1'", odd), [[odd]])

    def test_concurrent_full_upgrades_of_one_parent_serialise(self):
        eid, (aid,) = self.entitlement(count=4)
        results = []
        barrier = threading.Barrier(16)

        def run(i):
            c = Client(self.daemon, self.user)
            try:
                barrier.wait()
                r = c.call(lifecycle_body("upgradeLicense",
                                          [{"items": [self.item(aid, new_aid=f"{aid}-C{i}", is_full=True, allow=False)]}]))
                results.append(r)
            finally:
                c.close()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 16)
        ok = [r for r in results if r.status_text == "SUCCESS"]
        self.assertEqual(len(ok), 1, [r.reason_text for r in results])
        for r in results:
            if r is not ok[0]:
                self.assertTrue(self.reasons(r)[0].startswith(("INVALID_STATE: ", "INVALID_COUNT: ")), r.body)
        self.assertEqual(nrows("SELECT count(*) FROM line_items WHERE activation_id LIKE :'v1'", aid + "-C%"), 1)
        self.assertEqual(nrows("SELECT count(*) FROM audit_log WHERE parent_activation_id = :'v1'", aid), 1)
        self.assertEqual(psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'", aid),
                         [["OBSOLETE", "0"]])

    def test_backends_ended_under_load_every_answer_is_true(self):
        # Backends ended every few milliseconds (pg_terminate_backend, as a
        # server shutting down does) under 8 clients of upgrades: every
        # SUCCESS is in the database, every other failure is not, and a
        # unit whose COMMIT's answer came before its connection went is a
        # SUCCESS, not COMMIT_UNKNOWN (the backend ends with its results
        # buffered until the pipeline's Sync and sends them first).
        parents = [self.entitlement(count=100000)[1][0] for _ in range(8)]
        answers, lock = [], threading.Lock()

        def client(parent, stop):
            c = Client(self.daemon, self.user)
            try:
                while not stop.is_set():
                    new = "T-" + token(12)
                    r = c.call(lifecycle_body("upgradeLicense", [{"items": [
                        self.item(parent, new_aid=new, count=1, allow=True)]}]))
                    with lock:
                        answers.append((new, r.status, r.status_text, (self.reasons(r) or [""])[0]))
            finally:
                c.close()

        kills = end_backends_while(3, [functools.partial(client, p) for p in parents])
        stored = {row[0] for row in psql("SELECT activation_id FROM line_items WHERE activation_id = ANY (:'v1')",
                                         "{" + ",".join(a[0] for a in answers) + "}")}
        unknown = [a for a in answers if a[3].startswith("COMMIT_UNKNOWN")]
        for new, status, text, reason in answers:
            if text == "SUCCESS":
                self.assertIn(new, stored, (status, text, reason))
            elif not reason.startswith("COMMIT_UNKNOWN"):
                self.assertNotIn(new, stored, (status, text, reason))
        self.assertGreater(kills, 0)
        self.assertGreater(len([a for a in answers if a[2] == "SUCCESS"]), 0)
        # A COMMIT_UNKNOWN is a COMMIT whose answer never came. Before the
        # daemon read the results that came before the FATAL error, about
        # half of them had committed (34 of 71 here, 60 of 75 in a review).
        committed_unknown = [a for a in unknown if a[0] in stored]
        self.assertLessEqual(len(committed_unknown), max(2, len(unknown) // 5),
                             f"{len(committed_unknown)} of {len(unknown)} COMMIT_UNKNOWN units committed, "
                             f"{len(answers)} answers, {kills} backends ended")

    def test_a_commit_whose_backend_ends_is_looked_up(self):
        # A deferred trigger ends the session's own backend at COMMIT,
        # before its commit record: the answer never comes. The service
        # asks PostgreSQL how that transaction ended (by its id, on a new
        # connection): it did not commit, so the units run once more, as
        # units whose connection was lost before the COMMIT do. They were
        # COMMIT_UNKNOWN before.
        psql("""DROP SEQUENCE IF EXISTS test_kill_at_commit; CREATE SEQUENCE test_kill_at_commit;
                CREATE OR REPLACE FUNCTION test_kill_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.activation_id LIKE 'KILL-%' OR nextval('test_kill_at_commit') = 1 THEN
                  PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NULL; END $$;
                DROP TRIGGER IF EXISTS test_kill_at_commit ON line_items;
                CREATE CONSTRAINT TRIGGER test_kill_at_commit AFTER INSERT ON line_items
                  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                  WHEN (NEW.activation_id LIKE 'KILL%') EXECUTE FUNCTION test_kill_at_commit();""")
        try:
            # Ended once (KILLONCE-: the sequence is not rolled back): the
            # group runs again and succeeds; one line item, one audit row.
            eid, (aid,) = self.entitlement(count=10)
            new = "KILLONCE-" + token(8)
            r = self.upgrade([{"items": [self.item(aid, new_aid=new, count=2, allow=True)]}])
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", new), [["2"]])
            self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["8"]])
            self.assertEqual(psql("SELECT count(*) FROM audit_log WHERE new_activation_id = :'v1'", new), [["1"]])
            # The same on the one-unit-at-a-time path (renewLicense).
            eid2, (aid2,) = self.entitlement(count=10)
            psql("UPDATE line_items SET expiration_date = '2027-12-31' WHERE activation_id = :'v1'", aid2)
            psql("SELECT setval('test_kill_at_commit', 1, false)")
            new2 = "KILLONCE-" + token(8)
            r = self.client.call(renew_body([{"items": [renew_item_xml(aid2, new2, term=(1, "YEARS"))]}]))
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", new2), [["1"]])
            self.assertEqual(psql("SELECT last_value FROM test_kill_at_commit"), [["2"]])
            # Ended every time (KILL-): it did not commit, and the answer
            # says so (the database unavailable: nothing applied), never
            # COMMIT_UNKNOWN and never a success.
            r = self.client.call(lifecycle_body("upgradeLicense", [
                {"items": [self.item(aid, new_aid="KILL-" + token(8), count=2, allow=True)]},
                {"items": [self.item("missing-" + token(6))]}]))
            self.assertEqual(r.status, 503, r.body)
            self.assertIn(b"DATABASE_UNAVAILABLE", r.body)
            self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["8"]])
            eid3, (aid3,) = self.entitlement(count=10)
            psql("UPDATE line_items SET expiration_date = '2027-12-31' WHERE activation_id = :'v1'", aid3)
            r = self.client.call(renew_body([{"items": [renew_item_xml(aid3, "KILL-" + token(8), term=(1, "YEARS"))]}]))
            self.assertEqual(r.status, 503, r.body)
            self.assertIn(b"DATABASE_UNAVAILABLE", r.body)
            self.assertNotIn(b"COMMIT_UNKNOWN", r.body)
            self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id LIKE 'KILL-%'"), [["0"]])
            # The service goes on with fresh connections.
            self.assertEqual(self.upgrade([{"items": [self.item(aid, count=1, allow=True)]}]).status_text, "SUCCESS")
        finally:
            psql("DROP TRIGGER IF EXISTS test_kill_at_commit ON line_items; DROP FUNCTION IF EXISTS test_kill_at_commit();"
                 "DROP SEQUENCE IF EXISTS test_kill_at_commit")

    def test_unit_building_on_an_earlier_unit_of_the_same_request(self):
        # Unit 2 upgrades the line item unit 1 creates: the request runs unit
        # by unit, and both succeed in order.
        ctl_relate = __import__("harness").ctl
        ctl_relate("product", "relate", *self.cat.upgrade, *self.cat.upsell, "UPGRADE", "--if-missing")
        eid, (aid,) = self.entitlement(count=6)
        r = self.upgrade([{"items": [self.item(aid, new_aid=aid + "-1", count=4, allow=True)]},
                          {"items": [self.item(aid + "-1", new_aid=aid + "-2", count=2, allow=True,
                                               product=self.cat.upsell)]}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT activation_id, number_of_copies FROM line_items WHERE activation_id "
                              "LIKE :'v1' ORDER BY id", aid + "%"),
                         [[aid, "2"], [aid + "-1", "2"], [aid + "-2", "2"]])

    def test_same_parent_in_several_units(self):
        eid, (aid,) = self.entitlement(count=5)
        r = self.upgrade([{"items": [self.item(aid, count=2, allow=True)]},
                          {"items": [self.item(aid, count=2, allow=True)]},
                          {"items": [self.item(aid, count=2, allow=True)]}])
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        self.assertTrue(self.reasons(r)[0].startswith("INVALID_COUNT: "), r.body)
        self.assertEqual(r.text("f:failedData/f:failedEntitlement/f:entitlementData/f:lineItemData/"
                                "f:parentLineItemIdentifier/f:primaryKeys/f:activationId"), aid)
        self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["1"]])

    def test_batch_too_large(self):
        d = self.__class__.daemon  # default limit 1000: use a small daemon instead
        del d
        from harness import Daemon
        small = Daemon(ENTITLEMENTD_MAX_UNITS=2).start()
        try:
            c = Client(small, self.user)
            eid, aids = self.entitlement(n_items=3)
            r = c.call(lifecycle_body("upgradeLicense", [{"items": [self.item(a, count=1, allow=True)]} for a in aids]))
            self.assertEqual(r.status_text, "FAILURE", r.body)
            self.assertTrue(r.reason_text.startswith("BATCH_TOO_LARGE: "), r.body)
            self.assertEqual(psql("SELECT DISTINCT number_of_copies FROM line_items li JOIN entitlements e "
                                  "ON e.id = li.entitlement_id WHERE e.entitlement_id = :'v1'", eid), [["10"]])
            c.close()
        finally:
            self.assertEqual(small.stop(), 0)


class CommitAnswerLostTest(DaemonTestCase):
    """The daemon reaches PostgreSQL through a proxy that, once armed, ends
    the connection whose COMMIT has just succeeded, before its answer
    reaches the daemon: the service asks the server how that transaction
    ended, and reports what happened."""

    entitlement = UpgradeTest.entitlement
    upgrade = UpgradeTest.upgrade
    item = UpgradeTest.item
    reasons = UpgradeTest.reasons

    @classmethod
    def setUpClass(cls):
        cls.cat = Catalog()
        cls.proxy = PgProxy()
        # No job or webhook workers: the only COMMITs are the requests'.
        cls.daemon = Daemon(DATABASE_URL=cls.proxy.conninfo(), ENTITLEMENTD_JOB_WORKERS=0,
                            ENTITLEMENTD_WEBHOOK_WORKERS=0).start()
        cls.user = make_user()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.proxy.close()

    def new_uid(self, r):
        new = r.findall("f:responseData/f:entitlementData")[0].find(f"{{{NS}}}createdLineItemData/{{{NS}}}newLineItem")
        return new.findtext(f"{{{NS}}}activationId"), new.findtext(f"{{{NS}}}uniqueId")

    def test_a_committed_group_is_a_success(self):
        eid, (aid,) = self.entitlement(count=10)
        self.proxy.arm()
        r = self.upgrade([{"items": [self.item(aid, count=3, allow=True)]}])
        self.assertTrue(self.proxy.dropped.is_set())
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        # The new line item's uniqueId, read back after the COMMIT, as the
        # write would have returned it.
        new_aid, new_uid = self.new_uid(r)
        self.assertEqual(psql("SELECT unique_id, number_of_copies FROM line_items WHERE activation_id = :'v1'",
                              new_aid), [[new_uid, "3"]])
        self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["7"]])
        self.assertIn("it had committed", self.daemon.read_log())

    def test_a_committed_renewal_is_a_success(self):
        eid, (aid,) = self.entitlement(count=10)
        psql("UPDATE line_items SET expiration_date = '2027-12-31' WHERE activation_id = :'v1'", aid)
        new = "R-" + token(8)
        self.proxy.arm()
        r = self.client.call(renew_body([{"items": [renew_item_xml(aid, new, term=(1, "YEARS"))]}]))
        self.assertTrue(self.proxy.dropped.is_set())
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", new), [["1"]])
        self.assertIn("the unit had committed", self.daemon.read_log())

    def test_unknown_after_the_server_went_through_crash_recovery(self):
        # Crash recovery empties db/017's unlogged token (and may hand the
        # lost transaction's id out again): here the token changes while
        # the answer is held back, and the id is not trusted, although
        # this transaction did commit.
        eid, (aid,) = self.entitlement(count=10)
        self.proxy.arm(before_drop=lambda: psql("UPDATE server_incarnation SET token = :'v1'", "life-" + token(12)))
        r = self.upgrade([{"items": [self.item(aid, count=2, allow=True)]}])
        self.assertTrue(self.proxy.dropped.is_set())
        self.assertTrue(self.reasons(r)[0].startswith("COMMIT_UNKNOWN: "), r.body)
        self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["8"]])
        self.assertIn("the server is not the one that ran it", self.daemon.read_log())

    def test_asked_again_while_the_server_refuses_connections(self):
        # The server refuses connections for a moment after the lost
        # answer: asked again until it answers, within the 2 s the
        # question may take (it was COMMIT_UNKNOWN at the first refusal).
        eid, (aid,) = self.entitlement(count=10)
        self.proxy.arm(refuse_s=0.5)
        r = self.upgrade([{"items": [self.item(aid, count=2, allow=True)]}])
        self.assertTrue(self.proxy.dropped.is_set())
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["8"]])

    def test_unknown_when_the_server_cannot_be_asked(self):
        # The server refuses connections for longer than the question may
        # take: the outcome cannot be known, and the answer says so (here
        # it had committed). Then the service goes on.
        eid, (aid,) = self.entitlement(count=10)
        self.proxy.arm(refuse_s=3.0)
        r = self.upgrade([{"items": [self.item(aid, count=2, allow=True)]}])
        self.assertTrue(self.proxy.dropped.is_set())
        self.assertTrue(self.reasons(r)[0].startswith("COMMIT_UNKNOWN: "), r.body)
        self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["8"]])
        time.sleep(2.0)
        self.assertEqual(self.upgrade([{"items": [self.item(aid, count=1, allow=True)]}]).status_text, "SUCCESS")


def as_superuser(*statements):
    """Runs each statement on its own (ALTER SYSTEM may not share a
    transaction) as the embedded cluster's superuser, which trusts local
    connections (scripts/pg)."""
    url = " ".join(p for p in os.environ["DATABASE_URL"].split() if not p.startswith("user=")) + " user=postgres"
    args = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for s in statements:
        args += ["-c", s]
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@unittest.skipUnless(os.environ.get("ENTITLEMENTD_TEST_HOME"),
                     "needs the embedded cluster's superuser (scripts/test), to name a synchronous standby")
class SynchronousStandbyTest(unittest.TestCase):
    """A synchronous standby that never answers: every COMMIT waits for it
    (the statement timeout does not cover a COMMIT). Committed here, maybe
    not on the standby, is not a success a failover keeps: the unit is
    COMMIT_UNKNOWN, whether the daemon's watch closes the connection or an
    operator cancels the wait (PostgreSQL then answers the COMMIT with
    success and a WARNING)."""

    entitlement = UpgradeTest.entitlement
    upgrade = UpgradeTest.upgrade
    item = UpgradeTest.item
    reasons = UpgradeTest.reasons

    def start(self, **env):
        self.daemon = Daemon(ENTITLEMENTD_JOB_WORKERS=0, ENTITLEMENTD_WEBHOOK_WORKERS=0, **env).start()
        self.addCleanup(lambda: self.assertEqual(self.daemon.stop(), 0))
        self.cat = Catalog()
        self.client = Client(self.daemon, make_user())
        self.addCleanup(self.client.close)
        eid, (aid,) = self.entitlement(count=10)
        # (Nothing below commits but the upgrade: every COMMIT waits now.)
        self.addCleanup(self.standby, "")
        self.standby("entitlementd_no_such_standby")
        return aid

    def standby(self, name):
        as_superuser(f"ALTER SYSTEM SET synchronous_standby_names = '{name}'" if name
                     else "ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()")
        shown = [[name]] if name else []  # (psql() drops an empty row)
        deadline = time.monotonic() + 10
        while psql("SHOW synchronous_standby_names") != shown and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(psql("SHOW synchronous_standby_names"), shown)

    def cancel_the_wait(self, call):
        """Runs call() in a thread, cancels its COMMIT's wait for the
        standby as an operator would (pg_cancel_backend), and returns what
        call returned."""
        done = {}
        t = threading.Thread(target=lambda: done.setdefault("r", call()))
        t.start()
        waiting = []
        deadline = time.monotonic() + 10
        while not waiting and time.monotonic() < deadline:
            waiting = psql("SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' "
                           "AND application_name = 'entitlementd'")
            time.sleep(0.02)
        self.assertTrue(waiting, "no COMMIT waited for the standby")
        psql("SELECT pg_cancel_backend(:'v1')", waiting[0][0])
        t.join(20)
        return done["r"]

    def check(self, r, aid, logged):
        self.standby("")
        reasons = self.reasons(r)
        self.assertTrue(reasons and reasons[0].startswith("COMMIT_UNKNOWN: "), r.body)
        self.assertIn(logged, self.daemon.read_log())
        # It did commit here.
        self.assertEqual(psql("SELECT number_of_copies FROM line_items WHERE activation_id = :'v1'", aid), [["7"]])

    def test_the_watch_ends_a_commit_the_standby_never_confirms(self):
        aid = self.start(ENTITLEMENTD_DB_STATEMENT_TIMEOUT_MS="1000")
        started = time.monotonic()
        r = self.upgrade([{"items": [self.item(aid, count=3, allow=True)]}])
        self.assertLess(time.monotonic() - started, 10)
        self.check(r, aid, "no answer in time")

    def test_a_wait_for_the_standby_cancelled_is_unknown(self):
        aid = self.start()
        r = self.cancel_the_wait(lambda: self.upgrade([{"items": [self.item(aid, count=3, allow=True)]}]))
        self.check(r, aid, "the COMMIT succeeded with a warning")
        self.assertIn("committed here, maybe not on the synchronous standbys", self.daemon.read_log())

    def test_a_create_whose_wait_is_cancelled_is_unknown(self):
        # A unit of its own transaction (createSimpleEntitlement, as renewals,
        # state changes and deletions): the same.
        self.start()
        eid = "SB-" + token(10)
        r = self.cancel_the_wait(lambda: self.client.call(create_body([{"eid": eid,
                                                                        "items": [(eid + "-L", self.cat.base, 5)]}])))
        self.standby("")
        self.assertTrue((r.text("f:failedData/f:failedSimpleEntitlement/f:reason") or "").startswith(
            "COMMIT_UNKNOWN: "), r.body)
        self.assertIn("the COMMIT succeeded with a warning", self.daemon.read_log())
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["1"]])


if __name__ == "__main__":
    unittest.main()
