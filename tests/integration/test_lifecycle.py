"""renewLicense, setEntitlementState, setLineItemState, deleteEntitlement,
getEntitlementCount and the v1..v4 endpoints, through the real daemon."""
import threading
import unittest

from builders import (change_item_xml, count_body, create_body, delete_body, lifecycle_body, renew_body,
                      renew_item_xml, search_body, set_entitlement_state_body, set_line_item_state_body,
                      simple_query)
from catalog import Catalog
from harness import NS, PATH, Client, Daemon, DaemonTestCase, ctl, envelope, psql, token


def n(tag):
    return f"{{{NS}}}{tag}"


class LifecycleTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def entitlement(self, n_items=1, count=10, auto_deploy=True, **item_kw):
        eid = "L-" + token(12)
        aids = [f"{eid}-{i}" for i in range(n_items)]
        self.ok(create_body([{"eid": eid, "items": [(a, self.cat.base, count, item_kw) for a in aids],
                              "auto_deploy": auto_deploy}]))
        return eid, aids

    def reasons(self, r, path="f:failedData/f:failedEntitlement"):
        return [e.findtext(n("reason")) for e in r.findall(path)]

    def row(self, aid, cols="state, number_of_copies"):
        return psql(f"SELECT {cols} FROM line_items WHERE activation_id = :'v1'", aid)

    # renewLicense

    def test_renew_keeps_the_product_and_extends_the_term(self):
        eid, (aid,) = self.entitlement(expiration="2027-03-31")
        r = self.ok(renew_body([{"ent": eid, "items": [renew_item_xml(aid, aid + "-R1", term=(1, "YEARS"))]}]))
        d = r.find("f:responseData/f:entitlementData")
        self.assertEqual(d.findtext(n("entitlementRecordRefNo")), "1")
        li = d.find(n("renewedLineItem"))
        self.assertEqual(li.findtext(f"{n('parentLineItemIdentifier')}/{n('primaryKeys')}/{n('activationId')}"), aid)
        self.assertEqual(li.findtext(f"{n('newLineItem')}/{n('activationId')}"), aid + "-R1")
        self.assertEqual(psql("SELECT li.line_item_type, li.expiration_date::text, p.name, p.version, li.number_of_copies "
                              "FROM line_items li JOIN products p ON p.id = li.product_id WHERE activation_id = :'v1'",
                              aid + "-R1"), [["RENEWAL", "2028-03-31", *self.cat.base, "10"]])
        # allowActivationsOnParent defaults to true: the parent stays deployed.
        self.assertEqual(self.row(aid, "state"), [["DEPLOYED"]])
        # An explicit date, a part of the count, and retiring the parent.
        eid2, (aid2,) = self.entitlement(expiration="2027-01-01")
        self.ok(renew_body([{"items": [renew_item_xml(aid2, aid2 + "-R", expiration="2030-06-30", count=4,
                                                      allow=False)]}]))
        self.assertEqual(self.row(aid2 + "-R", "expiration_date::text, number_of_copies"), [["2030-06-30", "4"]])
        self.assertEqual(self.row(aid2), [["OBSOLETE", "6"]])

    def test_a_connection_lost_before_commit_runs_the_unit_again(self):
        # The backend ends in the middle of a renewal's insert (a trigger
        # ends it the first time only: a sequence is not rolled back).
        # Nothing was committed, so the unit runs again on a new connection
        # and succeeds, as a commit group's do; it was a 503.
        psql("""DROP SEQUENCE IF EXISTS test_kill_once; CREATE SEQUENCE test_kill_once;
                CREATE OR REPLACE FUNCTION test_kill_once() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF nextval('test_kill_once') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
                RETURN NEW; END $$;
                DROP TRIGGER IF EXISTS test_kill_once ON line_items;
                CREATE TRIGGER test_kill_once BEFORE INSERT ON line_items FOR EACH ROW
                  WHEN (NEW.activation_id LIKE 'KILLONCE-%') EXECUTE FUNCTION test_kill_once();""")
        try:
            _, (aid,) = self.entitlement(expiration="2027-01-01")
            new = "KILLONCE-" + token(8)
            r = self.ok(renew_body([{"items": [renew_item_xml(aid, new, term=(1, "YEARS"))]}]))
            self.assertEqual(self.row(new), [["DEPLOYED", "10"]])
            self.assertEqual(psql("SELECT last_value FROM test_kill_once"), [["2"]])
            self.assertEqual(psql("SELECT count(*) FROM audit_log WHERE parent_activation_id = :'v1'", aid), [["1"]])
        finally:
            psql("DROP TRIGGER IF EXISTS test_kill_once ON line_items; DROP FUNCTION IF EXISTS test_kill_once();"
                 "DROP SEQUENCE IF EXISTS test_kill_once")

    def test_renew_failures(self):
        eid, (perm,) = self.entitlement(permanent=True)
        r = self.ok(renew_body([{"items": [renew_item_xml(perm, term=(1, "YEARS"), auto=True)]}]), "FAILURE")
        self.assertTrue(self.reasons(r)[0].startswith("NOT_RENEWABLE: "), r.body)
        eid, (aid,) = self.entitlement(expiration="2027-01-01")
        r = self.ok(renew_body([{"items": [renew_item_xml("nope-" + token(6), auto=True)]}]), "FAILURE")
        self.assertTrue(self.reasons(r)[0].startswith("LINE_ITEM_NOT_FOUND: "), r.body)
        r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, count=11)]}]), "FAILURE")
        self.assertTrue(self.reasons(r)[0].startswith("INVALID_COUNT: "), r.body)
        # Integers beyond 64 bits fail their unit, not the request.
        r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, count="99999999999999999999")]}]),
                    "FAILURE")
        self.assertTrue(self.reasons(r)[0].startswith("INVALID_COUNT: numberOfCopies 99999999999999999999 "), r.body)
        r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, term=("99999999999999999999", "DAYS"))]}]),
                    "FAILURE")
        self.assertEqual(self.reasons(r)[0], "INVALID_REQUEST: renewLineItemData[1]/renewParameters/expirationTerms/"
                                             "term/numDuration 99999999999999999999 does not fit in 64 bits", r.body)
        # A term that would end after 9999-12-31 (or past any date) is refused.
        _, (last,) = self.entitlement(expiration="9999-12-31")
        for term in ((1, "DAYS"), (2000000000, "YEARS")):
            r = self.ok(renew_body([{"items": [renew_item_xml(last, auto=True, term=term)]}]), "FAILURE")
            self.assertTrue(self.reasons(r)[0].startswith("INVALID_REQUEST: "), r.body)
            self.assertIn("9999-12-31", self.reasons(r)[0])
        # Without parentEntitlementIdentifier a unit is its first parent's
        # entitlement's: a parent of another entitlement fails it.
        _, (other,) = self.entitlement(expiration="2027-01-01")
        r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, term=(1, "YEARS")),
                                           renew_item_xml(other, auto=True, term=(1, "YEARS"))]}]), "FAILURE")
        self.assertTrue(self.reasons(r)[0].startswith("LINE_ITEM_NOT_IN_ENTITLEMENT: "), r.body)
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE parent_id IN (SELECT id FROM line_items "
                              "WHERE activation_id IN (:'v1', :'v2'))", aid, other), [["0"]])
        for bad in (" ", "a\u2028b"):
            r = self.ok(renew_body([{"items": [renew_item_xml(aid, bad, term=(1, "YEARS"))]}]), "FAILURE")
            self.assertTrue(self.reasons(r)[0].startswith("INVALID_ACTIVATION_ID: "), r.body)
        # An INACTIVE entitlement's line items cannot be renewed, upgraded or upsold.
        self.ok(set_entitlement_state_body([(eid, "INACTIVE")]))
        r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, term=(1, "MONTHS"))]}]), "FAILURE")
        self.assertTrue(self.reasons(r)[0].startswith("INVALID_STATE: "), r.body)
        for op, prod in (("upgradeLicense", self.cat.upgrade), ("upsellLicense", self.cat.upsell)):
            r = self.ok(lifecycle_body(op, [{"items": [change_item_xml(aid, None, prod, 1, auto=True)]}]), "FAILURE")
            self.assertTrue(self.reasons(r)[0].startswith("INVALID_STATE: "), r.body)

    def test_renew_never_moves_the_expiration_earlier(self):
        eid, (aid,) = self.entitlement(expiration="2027-03-31")
        for term in ((-5, "DAYS"), (0, "YEARS"), (-1, "MONTHS")):
            with self.subTest(term=term):
                r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, term=term)]}]), "FAILURE")
                self.assertEqual(self.reasons(r)[0],
                                 f"INVALID_REQUEST: expirationTerms/term/numDuration {term[0]} must be at least 1: "
                                 "a renewal extends the term")
        for day in ("2027-03-30", "2027-03-31", "2001-01-01"):
            with self.subTest(day=day):
                r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, expiration=day)]}]), "FAILURE")
                self.assertEqual(self.reasons(r)[0],
                                 f"INVALID_REQUEST: expirationTerms/expirationDate '{day}' is not after the "
                                 f"expiration of line item '{aid}' (2027-03-31): a renewal extends the term")
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE parent_id = "
                              "(SELECT id FROM line_items WHERE activation_id = :'v1')", aid), [["0"]])
        self.assertEqual(self.row(aid), [["DEPLOYED", "10"]])
        # One day later is a renewal.
        r = self.ok(renew_body([{"items": [renew_item_xml(aid, aid + "-R", expiration="2027-04-01", count=1)]}]))
        self.assertEqual(self.row(aid + "-R", "expiration_date::text"), [["2027-04-01"]])

    def test_dates_do_not_depend_on_the_servers_datestyle(self):
        eid, (aid,) = self.entitlement(expiration="2027-03-31")
        psql("DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET DateStyle = ''SQL, DMY''', current_database()); END$$")
        try:
            d = Daemon().start()  # new connections, which get the database's setting
            try:
                c = Client(d, self.user)
                r = c.call(renew_body([{"items": [renew_item_xml(aid, auto=True, expiration="2027-03-30")]}]))
                self.assertEqual(r.status_text, "FAILURE", r.body)
                self.assertIn("(2027-03-31)", self.reasons(r)[0])
                r = c.call(search_body(simple_query("entitlementId", eid)))
                self.assertEqual(r.text("f:entitlement/f:simpleEntitlement/f:lineItems/f:expirationDate"),
                                 "2027-03-31", r.body)
                c.close()
            finally:
                self.assertEqual(d.stop(), 0)
        finally:
            psql("DO $$BEGIN EXECUTE format('ALTER DATABASE %I RESET DateStyle', current_database()); END$$")

    def test_renew_racing_an_upgrade_gives_a_serial_outcome(self):
        for _ in range(5):
            eid, (aid,) = self.entitlement(expiration="2027-01-01")
            results = {}
            barrier = threading.Barrier(2)

            def run(name, body):
                c = Client(self.daemon, self.user)
                barrier.wait()
                results[name] = c.call(body)
                c.close()

            up = lifecycle_body("upgradeLicense", [{"items": [change_item_xml(aid, aid + "-U", self.cat.upgrade,
                                                                              is_full=True, allow=False)]}])
            rn = renew_body([{"items": [renew_item_xml(aid, aid + "-R", term=(1, "YEARS"), is_full=True)]}])
            ts = [threading.Thread(target=run, args=a) for a in (("up", up), ("rn", rn))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            up_ok = results["up"].status_text == "SUCCESS"
            rn_ok = results["rn"].status_text == "SUCCESS"
            # Upgrade first: the parent is OBSOLETE, the renewal fails.
            # Renewal first: it moved every copy, the upgrade fails on the count.
            self.assertTrue(up_ok != rn_ok, (results["up"].body, results["rn"].body))
            new = psql("SELECT activation_id FROM line_items WHERE parent_id = "
                       "(SELECT id FROM line_items WHERE activation_id = :'v1')", aid)
            self.assertEqual(new, [[aid + ("-U" if up_ok else "-R")]])

    def test_partial_failure_of_upsell_and_renew_leaves_no_trace(self):
        for op in ("upsellLicense", "renewLicense"):
            with self.subTest(op=op):
                eid, aids = self.entitlement(n_items=2, expiration="2027-01-01")
                audit = psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1'", eid)
                if op == "upsellLicense":
                    good = [change_item_xml(aids[0], aids[0] + "-n", self.cat.upsell, 1, allow=True)]
                    bad = [change_item_xml(aids[1], aids[1] + "-n", self.cat.upsell, 1, allow=True),
                           change_item_xml(aids[1], aids[1] + "-m", self.cat.upgrade, 1, allow=True)]
                    body = lifecycle_body(op, [{"items": good}, {"items": bad}])
                else:
                    good = [renew_item_xml(aids[0], aids[0] + "-n", term=(1, "YEARS"), count=1)]
                    bad = [renew_item_xml(aids[1], aids[1] + "-n", term=(1, "YEARS"), count=1),
                           renew_item_xml(aids[1], aids[1] + "-m", term=(1, "YEARS"), count=99)]
                    body = renew_body([{"items": good}, {"items": bad}])
                r = self.ok(body, "PARTIAL_FAILURE")
                self.assertEqual(r.text("f:responseData/f:entitlementData/f:entitlementRecordRefNo"), "1")
                self.assertEqual(len(r.findall("f:failedData/f:failedEntitlement")), 1)
                self.assertEqual(self.row(aids[1]), [["DEPLOYED", "10"]])
                self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id IN (:'v1', :'v2')",
                                      aids[1] + "-n", aids[1] + "-m"), [["0"]])
                after = psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1'", eid)
                self.assertEqual(int(after[0][0]), int(audit[0][0]) + 1)

    # setEntitlementState / setLineItemState

    def test_entitlement_states_cascade_to_line_items(self):
        eid, aids = self.entitlement(n_items=2, auto_deploy=False)
        self.assertEqual(psql("SELECT state FROM entitlements WHERE entitlement_id = :'v1'", eid), [["DRAFT"]])
        self.ok(set_entitlement_state_body([(eid, "DEPLOYED")]))
        for a in aids:
            self.assertEqual(self.row(a, "state"), [["DEPLOYED"]])
        self.ok(set_entitlement_state_body([(eid, "INACTIVE")]))
        for a in aids:
            self.assertEqual(self.row(a, "state"), [["INACTIVE"]])
        self.ok(set_entitlement_state_body([(eid, "DEPLOYED")]))
        self.assertEqual(self.row(aids[0], "state"), [["DEPLOYED"]])
        # Made TEST from INACTIVE, it is live again with its line items
        # DEPLOYED, as made DEPLOYED; and stays so when deployed after.
        self.ok(set_entitlement_state_body([(eid, "INACTIVE")]))
        self.ok(set_entitlement_state_body([(eid, "TEST")]))
        self.assertEqual([self.row(a, "state") for a in aids], [[["DEPLOYED"]], [["DEPLOYED"]]])
        self.ok(set_entitlement_state_body([(eid, "DEPLOYED")]))
        self.assertEqual([self.row(a, "state") for a in aids], [[["DEPLOYED"]], [["DEPLOYED"]]])
        # A line item suspended on its own stays so when its live
        # entitlement is deployed again; only DRAFT ones are deployed.
        self.ok(set_line_item_state_body([(aids[1], "INACTIVE", False)]))
        trail = ("SELECT (SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1'), (SELECT count(*) FROM "
                 "entitlement_changes WHERE entitlement_id = :'v1'), (SELECT updated_at FROM entitlements "
                 "WHERE entitlement_id = :'v1')")
        before = psql(trail, eid)
        self.ok(set_entitlement_state_body([(eid, "DEPLOYED")]))
        self.assertEqual([self.row(a, "state") for a in aids], [[["DEPLOYED"]], [["INACTIVE"]]])
        # That changed nothing: succeeded, with nothing recorded as changed
        # (no audit row, no change for subscribers); so for a line item set
        # to the state it has.
        self.assertEqual(psql(trail, eid), before)
        self.ok(set_line_item_state_body([(aids[0], "DEPLOYED", True)]))
        self.assertEqual(psql(trail, eid), before)
        self.ok(set_entitlement_state_body([(eid, "OBSOLETE")]))
        r = self.ok(set_entitlement_state_body([(eid, "DEPLOYED")]), "FAILURE")
        self.assertTrue(r.text("f:failedData/f:failedEntitlement/f:reason").startswith("INVALID_STATE: "), r.body)
        self.assertEqual(psql("SELECT state FROM entitlements WHERE entitlement_id = :'v1'", eid), [["OBSOLETE"]])

    def test_active_and_on_hold_are_not_targets(self):
        eid, (aid,) = self.entitlement()
        for state in ("ACTIVE", "ON_HOLD"):
            with self.subTest(state=state):
                r = self.ok(set_entitlement_state_body([(eid, state)]), "FAILURE")
                reason = r.text("f:failedData/f:failedEntitlement/f:reason")
                self.assertTrue(reason.startswith("INVALID_STATE: "), r.body)
                self.assertIn(f"stateToSet {state} cannot be set", reason)
                r = self.ok(set_line_item_state_body([(aid, state, False)]), "FAILURE")
                reason = r.text("f:failedData/f:failedLineItem/f:reason")
                self.assertTrue(reason.startswith("INVALID_STATE: "), r.body)
                # Still a query value.
                crit = f"<v4:state><v4:value>{state}</v4:value><v4:searchType>EQUALS</v4:searchType></v4:state>"
                self.assertEqual(self.ok(count_body(simple_query("entitlementId", eid) + crit)).text("f:count"), "0")
        self.assertEqual(psql("SELECT state FROM entitlements WHERE entitlement_id = :'v1'", eid), [["DEPLOYED"]])
        self.assertEqual(self.row(aid, "state"), [["DEPLOYED"]])
        self.assertEqual(psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1' AND operation LIKE 'set%'",
                              eid), [["0"]])

    def test_line_items_of_an_inactive_entitlement_cannot_be_deployed(self):
        eid, (aid, other) = self.entitlement(n_items=2)
        self.ok(set_entitlement_state_body([(eid, "INACTIVE")]))
        for state in ("DEPLOYED", "TEST"):
            with self.subTest(state=state):
                r = self.ok(set_line_item_state_body([(aid, state, False)]), "FAILURE")
                reason = r.text("f:failedData/f:failedLineItem/f:reason")
                self.assertTrue(reason.startswith("INVALID_STATE: "), r.body)
                self.assertIn(f"entitlement '{eid}' is INACTIVE", reason)
                self.assertEqual(self.row(aid, "state"), [["INACTIVE"]])
        # Retiring one is fine; deploying the entitlement deploys the others.
        self.ok(set_line_item_state_body([(aid, "OBSOLETE", False)]))
        self.ok(set_entitlement_state_body([(eid, "DEPLOYED")]))
        self.assertEqual(self.row(other, "state"), [["DEPLOYED"]])
        self.assertEqual(self.row(aid, "state"), [["OBSOLETE"]])

    def test_identifiers_that_name_different_objects(self):
        eid, (aid,) = self.entitlement(auto_deploy=False)
        other_eid, (other,) = self.entitlement(auto_deploy=False)
        uid = psql("SELECT unique_id FROM line_items WHERE activation_id = :'v1'", aid)[0][0]
        euid = psql("SELECT unique_id FROM entitlements WHERE entitlement_id = :'v1'", eid)[0][0]
        ent = (f"<v4:entitlementIdentifier><v4:uniqueId>{euid}</v4:uniqueId><v4:primaryKeys><v4:entitlementId>"
               f"{other_eid}</v4:entitlementId></v4:primaryKeys></v4:entitlementIdentifier>")
        li = (f"<v4:lineItemIdentifier><v4:uniqueId>{uid}</v4:uniqueId><v4:primaryKeys><v4:activationId>{other}"
              f"</v4:activationId></v4:primaryKeys></v4:lineItemIdentifier>")
        want_ent = (f"ENTITLEMENT_NOT_FOUND: uniqueId '{euid}' and entitlementId '{other_eid}' do not name the same "
                    f"entitlement (uniqueId '{euid}' is entitlementId '{eid}')")
        r = self.ok(f"<v4:setEntitlementStateRequest><v4:entitlement>{ent}<v4:stateToSet>DEPLOYED</v4:stateToSet>"
                    f"</v4:entitlement></v4:setEntitlementStateRequest>", "FAILURE")
        self.assertEqual(r.text("f:failedData/f:failedEntitlement/f:reason"), want_ent)
        r = self.ok(f"<v4:deleteEntitlementRequest><v4:entitlement>{ent}</v4:entitlement>"
                    f"</v4:deleteEntitlementRequest>", "FAILURE")
        self.assertEqual(r.text("f:failedData/f:failedEntitlement/f:reason"), want_ent)
        r = self.ok(f"<v4:setLineItemStateRequest><v4:lineItem>{li}<v4:stateToSet>DEPLOYED</v4:stateToSet>"
                    f"</v4:lineItem></v4:setLineItemStateRequest>", "FAILURE")
        self.assertEqual(r.text("f:failedData/f:failedLineItem/f:reason"),
                         f"LINE_ITEM_NOT_FOUND: uniqueId '{uid}' and activationId '{other}' do not name the same "
                         f"line item (uniqueId '{uid}' is activationId '{aid}')")
        for e in (eid, other_eid):
            self.assertEqual(psql("SELECT state FROM entitlements WHERE entitlement_id = :'v1'", e), [["DRAFT"]])
        # renewLicense (one unit at a time) says the same.
        self.ok(set_entitlement_state_body([(eid, "DEPLOYED"), (other_eid, "DEPLOYED")]))
        item = renew_item_xml(other, auto=True, term=(1, "YEARS")).replace(
            "<v4:parentLineItemIdentifier>", f"<v4:parentLineItemIdentifier><v4:uniqueId>{uid}</v4:uniqueId>")
        r = self.ok(renew_body([{"items": [item]}]), "FAILURE")
        self.assertEqual(self.reasons(r)[0],
                         f"LINE_ITEM_NOT_FOUND: uniqueId '{uid}' and activationId '{other}' do not name the same "
                         f"line item (uniqueId '{uid}' is activationId '{aid}')")
        r = self.ok(set_entitlement_state_body([("missing-" + token(6), "DEPLOYED")]), "FAILURE")
        self.assertIn("no entitlement with entitlementId 'missing-", r.text("f:failedData/f:failedEntitlement/f:reason"))

    def test_state_items_are_atomic_and_echoed(self):
        eid, _ = self.entitlement()
        missing = "missing-" + token(6)
        r = self.ok(set_entitlement_state_body([(eid, "TEST"), (missing, "DEPLOYED")]), "PARTIAL_FAILURE")
        f = r.find("f:failedData/f:failedEntitlement")
        self.assertEqual(f.findtext(f"{n('entitlement')}/{n('entitlementIdentifier')}/{n('primaryKeys')}/"
                                    f"{n('entitlementId')}"), missing)
        self.assertTrue(f.findtext(n("reason")).startswith("ENTITLEMENT_NOT_FOUND: "))
        self.assertEqual(psql("SELECT state FROM entitlements WHERE entitlement_id = :'v1'", eid), [["TEST"]])

    def test_line_item_state_with_children(self):
        eid, (aid,) = self.entitlement()
        self.ok(lifecycle_body("upgradeLicense", [{"items": [change_item_xml(aid, aid + "-C1", self.cat.upgrade, 3,
                                                                             allow=True)]}]))
        self.ok(renew_body([{"items": [renew_item_xml(aid + "-C1", aid + "-C2", term=(1, "DAYS"), count=1)]}]))
        self.ok(set_line_item_state_body([(aid, "INACTIVE", False)]))
        self.assertEqual(self.row(aid + "-C1", "state"), [["DEPLOYED"]])
        self.ok(set_line_item_state_body([(aid, "TEST", True)]))
        for a in (aid, aid + "-C1", aid + "-C2"):
            self.assertEqual(self.row(a, "state"), [["TEST"]])
        # An OBSOLETE child (final) stays as it is, and the others follow,
        # its own children included, as an entitlement's state leaves its
        # OBSOLETE line items.
        self.ok(renew_body([{"items": [renew_item_xml(aid + "-C2", aid + "-C3", term=(1, "DAYS"), count=1)]}]))
        self.ok(set_line_item_state_body([(aid + "-C2", "OBSOLETE", False)]))
        self.ok(set_line_item_state_body([(aid, "INACTIVE", True)]))
        self.assertEqual([self.row(a, "state")[0][0] for a in (aid, aid + "-C1", aid + "-C2", aid + "-C3")],
                         ["INACTIVE", "INACTIVE", "OBSOLETE", "INACTIVE"])
        # The item itself OBSOLETE is never left.
        r = self.ok(set_line_item_state_body([(aid + "-C2", "DEPLOYED", True)]), "FAILURE")
        self.assertTrue(r.text("f:failedData/f:failedLineItem/f:reason").startswith("INVALID_STATE: "), r.body)
        self.assertEqual(self.row(aid + "-C3", "state"), [["INACTIVE"]])

    def test_concurrent_state_changes_serialise(self):
        eid, (aid,) = self.entitlement()
        results = []
        barrier = threading.Barrier(2)

        def run(state):
            c = Client(self.daemon, self.user)
            barrier.wait()
            results.append((state, c.call(set_entitlement_state_body([(eid, state)]))))
            c.close()

        ts = [threading.Thread(target=run, args=(s,)) for s in ("INACTIVE", "OBSOLETE")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ok = [s for s, r in results if r.status_text == "SUCCESS"]
        final = psql("SELECT state FROM entitlements WHERE entitlement_id = :'v1'", eid)[0][0]
        # Either order is serial: INACTIVE then OBSOLETE (both succeed), or
        # OBSOLETE then INACTIVE (which cannot leave OBSOLETE and fails).
        self.assertEqual(final, "OBSOLETE")
        self.assertIn("OBSOLETE", ok)
        self.assertEqual(self.row(aid, "state"), [["OBSOLETE"]])
        audits = psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1' AND operation = "
                      "'setEntitlementState'", eid)[0][0]
        self.assertEqual(int(audits), len(ok))

    # deleteEntitlement

    def test_delete(self):
        draft, _ = self.entitlement(auto_deploy=False)
        live, _ = self.entitlement()
        r = self.ok(delete_body([draft, live]), "PARTIAL_FAILURE")
        f = r.find("f:failedData/f:failedEntitlement")
        self.assertEqual(f.findtext(f"{n('entitlementIdentifier')}/{n('primaryKeys')}/{n('entitlementId')}"), live)
        self.assertTrue(f.findtext(n("reason")).startswith("INVALID_STATE: "))
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", draft), [["0"]])
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id LIKE :'v1'", draft + "%"), [["0"]])
        # The audit trail stays.
        ops = [r[0] for r in psql("SELECT operation FROM audit_log WHERE entitlement_id = :'v1' ORDER BY id", draft)]
        self.assertEqual(ops, ["createSimpleEntitlement", "deleteEntitlement"])
        # entitlementctl shows it by the entitlementId or the uniqueId it had.
        uid = psql("SELECT entitlement_uid FROM audit_log WHERE entitlement_id = :'v1' LIMIT 1", draft)[0][0]
        for key in (draft, uid):
            r = ctl("entitlement", "show", key, check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            out = r.stdout
            self.assertIn("No entitlement", out)
            self.assertIn("deleteEntitlement", out, key)
        # An OBSOLETE entitlement whose line items are all OBSOLETE can go.
        self.ok(set_entitlement_state_body([(live, "OBSOLETE")]))
        self.ok(delete_body([live]))
        r = self.ok(delete_body([live]), "FAILURE")
        self.assertTrue(r.text("f:failedData/f:failedEntitlement/f:reason").startswith("ENTITLEMENT_NOT_FOUND"))

    # getEntitlementCount

    def test_count_matches_query(self):
        tag = "C" + token(10)
        self.ok(create_body([{"eid": f"{tag}-{i}", "items": [(f"{tag}-{i}-a", self.cat.base, 1)],
                              "sold_to": "Count Co"} for i in range(3)]))
        r = self.ok(count_body(simple_query("entitlementId", tag, "STARTS_WITH")))
        self.assertEqual(r.text("f:count"), "3")
        r = self.ok(count_body(simple_query("entitlementId", tag, "STARTS_WITH") +
                               simple_query("productName", self.cat.upgrade[0]) +
                               simple_query("productVersion", self.cat.upgrade[1])))
        self.assertEqual(r.text("f:count"), "0")
        r = self.ok(count_body(simple_query("entitlementId", tag + "%", "STARTS_WITH")))
        self.assertEqual(r.text("f:count"), "0")

    # Lineage

    def test_long_lineage_in_query_and_cli(self):
        eid, (a0,) = self.entitlement(count=10, expiration="2027-01-01")
        self.ok(lifecycle_body("upgradeLicense", [{"items": [change_item_xml(a0, a0 + "-u", self.cat.upgrade, 8,
                                                                             allow=True)]}]))
        self.ok(renew_body([{"items": [renew_item_xml(a0 + "-u", a0 + "-ur", term=(6, "MONTHS"), count=6)]}]))
        ctl("product", "relate", *self.cat.upgrade, *self.cat.upsell, "UPSELL", "--if-missing")
        self.ok(lifecycle_body("upsellLicense", [{"items": [change_item_xml(a0 + "-ur", a0 + "-urs", self.cat.upsell,
                                                                            4, allow=True)]}]))
        self.ok(renew_body([{"items": [renew_item_xml(a0 + "-urs", a0 + "-ursr", term=(2, "WEEKS"), count=2)]}]))
        r = self.ok(search_body(simple_query("entitlementId", eid)))
        items = {li.findtext(f"{n('activationId')}/{n('id')}"): li
                 for li in r.findall("f:entitlement/f:simpleEntitlement/f:lineItems")}
        chain = [a0, a0 + "-u", a0 + "-ur", a0 + "-urs", a0 + "-ursr"]
        self.assertEqual(set(items), set(chain))
        for parent, child in zip(chain, chain[1:]):
            self.assertEqual(items[child].findtext(f"{n('parentLineItem')}/{n('primaryKeys')}/{n('activationId')}"),
                             parent)
        self.assertEqual([items[a].findtext(n("lineItemType")) for a in chain[1:]],
                         ["UPGRADE", "RENEWAL", "UPSELL", "RENEWAL"])
        out = ctl("entitlement", "show", eid).stdout
        lines = out.splitlines()
        pos = [next(i for i, l in enumerate(lines) if f" {a}  [" in l or l.strip().startswith(a + "  [")
                    or f"-- {a}  [" in l) for a in chain]
        self.assertEqual(pos, sorted(pos), out)
        depth = [len(lines[p]) - len(lines[p].lstrip()) for p in pos]
        self.assertEqual(depth, sorted(depth), out)
        self.assertIn("renewLicense", out)
        self.assertIn("upsellLicense", out)


class VersionsTest(DaemonTestCase):
    def test_v1_and_v4_alternate_on_one_connection(self):
        c = Client(self.daemon, self.user, path=PATH)
        for v in (1, 4, 1, 2, 4, 3, 1):
            ns = f"urn:v{v}.webservices.operations.flexnet.com"
            r = c.raw(envelope("<v4:getEntitlementCountRequest><v4:queryParams/></v4:getEntitlementCountRequest>",
                               ns=ns), path=PATH.replace("/v4/", f"/v{v}/"))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.payload.tag, f"{{{ns}}}getEntitlementCountResponse", r.body)
        c.close()

    def test_each_path_has_its_wsdl_and_namespace(self):
        import http.client
        for v in (1, 2, 3, 4):
            conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=10)
            conn.request("GET", PATH.replace("/v4/", f"/v{v}/") + "?wsdl")
            body = conn.getresponse().read().decode()
            conn.close()
            self.assertIn(f'targetNamespace="urn:v{v}.webservices.operations.flexnet.com"', body)
            self.assertIn(f"/flexnet/services/v{v}/EntitlementOrderService", body)
            self.assertNotIn("urn:v4." if v != 4 else "urn:v1.", body)
        # A request in another version's namespace than its path's is
        # answered in its own (the contract: accept all four, answer in
        # the namespace of the request).
        v1 = "urn:v1.webservices.operations.flexnet.com"
        r = Client(self.daemon, self.user, path=PATH).raw(
            envelope("<v4:getEntitlementCountRequest><v4:queryParams/></v4:getEntitlementCountRequest>", ns=v1))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.payload.tag, f"{{{v1}}}getEntitlementCountResponse", r.body)


if __name__ == "__main__":
    unittest.main()
