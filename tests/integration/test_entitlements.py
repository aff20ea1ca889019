"""createSimpleEntitlement and getEntitlementsQuery through the real daemon."""
import datetime
import re
import threading
import time
import unittest

from builders import (change_item_xml, count_body, create_body, create_full_body, entitlement_full_xml,
                      lifecycle_body, line_item_full_xml, renew_body, renew_item_xml, search_body,
                      delete_body, set_entitlement_state_body, set_line_item_state_body, simple_query)
from catalog import Catalog
from harness import NS, Client, Daemon, DaemonTestCase, envelope, psql, token


def n(tag):
    return f"{{{NS}}}{tag}"


class EntitlementsTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def create(self, ents, op_type=None):
        r = self.client.call(create_body(ents, op_type))
        self.assertEqual(r.status, 200, r.body)
        self.assertFalse(r.is_fault, r.body)
        return r

    def test_create_reports_both_identifiers(self):
        eid = "E-" + token(12)
        r = self.create([{"eid": eid, "items": [(eid + "-1", self.cat.base, 5), (eid + "-2", self.cat.base, 3)],
                          "sold_to": "ACME", "description": "two seats"}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        c = r.find("f:responseData/f:createdSimpleEntitlement")
        self.assertEqual(c.findtext(n("recordRefNo")), "1")
        self.assertEqual(c.findtext(n("entitlementId")), eid)
        uid = c.findtext(n("uniqueId"))
        self.assertEqual(psql("SELECT entitlement_id, state, sold_to FROM entitlements WHERE unique_id = :'v1'", uid),
                         [[eid, "DEPLOYED", "ACME"]])
        uids = [e.text for e in c.findall(n("lineItemUniqueIds"))]
        idents = c.findall(n("lineItemIdentifiers"))
        self.assertEqual(len(uids), 2)
        self.assertEqual([i.findtext(f"{n('primaryKeys')}/{n('activationId')}") for i in idents],
                         [eid + "-1", eid + "-2"])
        self.assertEqual([i.findtext(n("uniqueId")) for i in idents], uids)
        self.assertEqual(psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1'", eid), [["2"]])

    def test_create_is_atomic_per_entitlement(self):
        good, bad = "E-" + token(12), "E-" + token(12)
        r = self.create([{"eid": good, "items": [(good + "-1", self.cat.base, 1)]},
                         {"eid": bad, "items": [(bad + "-1", self.cat.base, 1),
                                                (bad + "-2", ("Nope-" + token(4), "1"), 1)]}])
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        failed = r.find("f:failedData/f:failedSimpleEntitlement")
        self.assertTrue(failed.findtext(n("reason")).startswith("PRODUCT_NOT_FOUND: "))
        self.assertEqual(failed.findtext(f"{n('simpleEntitlement')}/{n('entitlementId')}/{n('id')}"), bad)
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", bad), [["0"]])
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id LIKE :'v1'", bad + "%"), [["0"]])
        self.assertEqual(psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1'", bad), [["0"]])

    def test_create_draft_generated_ids_and_op_types(self):
        r = self.create([{"eid": None, "auto": True, "items": [(None, self.cat.base, 2)], "auto_deploy": False}])
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        eid = r.text("f:responseData/f:createdSimpleEntitlement/f:entitlementId")
        self.assertRegex(eid, r"^[a-z0-9]{4}(-[a-z0-9]{4}){7}$")
        self.assertEqual(psql("SELECT DISTINCT li.state FROM line_items li JOIN entitlements e ON e.id = "
                              "li.entitlement_id WHERE e.entitlement_id = :'v1'", eid), [["DRAFT"]])
        # Same id again: refused without opType, ignored, or updated.
        again = [{"eid": eid, "items": [(eid + "-X", self.cat.base, 1)], "sold_to": "Globex"}]
        r = self.create(again)
        self.assertEqual(r.status_text, "FAILURE")
        r = self.create(again, "CREATE_OR_IGNORE")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", eid + "-X"), [["0"]])
        # Without autoDeploy a draft stays a draft; with it, it is deployed
        # with its draft line items (autoDeploy "makes the entitlement and
        # its line items DEPLOYED").
        states = ("SELECT e.state, string_agg(DISTINCT li.state, ',') FROM entitlements e JOIN line_items li "
                  "ON li.entitlement_id = e.id WHERE e.entitlement_id = :'v1' GROUP BY 1")
        r = self.create([dict(again[0], items=[], auto_deploy=False, sold_to="Acme")], "CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql(states, eid), [["DRAFT", "DRAFT"]])
        r = self.create(again, "CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT sold_to FROM entitlements WHERE entitlement_id = :'v1'", eid), [["Globex"]])
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", eid + "-X"), [["1"]])
        self.assertEqual(psql(states, eid), [["DEPLOYED", "DEPLOYED"]])
        # Each update of its own fields is audited, as every applied change.
        self.assertEqual(psql("SELECT detail FROM audit_log WHERE entitlement_id = :'v1' AND detail IS NOT NULL "
                              "ORDER BY id", eid),
                         [["fields updated (CREATE_OR_UPDATE)"], ["fields updated (CREATE_OR_UPDATE)"],
                          ["DRAFT -> DEPLOYED (autoDeploy)"]])
        r = self.create(again, "CREATE_OR_UPDATE")  # the line item is not new any more
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", eid + "-X"), [["1"]])

    def test_the_reason_is_the_first_failing_line_items_in_request_order(self):
        """A line item refused before the database is asked (a text over its
        limit, an id the request names twice) does not hide an earlier line
        item's failure; nothing is written either way."""
        nope = ("Nope-" + token(6), "1")
        cases = [
            (lambda e: [(e + "-1", nope, 1), (e + "-2", self.cat.base, 1, {"description": "d" * 2001})],
             "PRODUCT_NOT_FOUND: "),
            (lambda e: [(e + "-1", nope, 1), (e + "-1", self.cat.base, 1)], "PRODUCT_NOT_FOUND: "),
            (lambda e: [(e + "-1", self.cat.base, 0), (e + "-2", self.cat.base, 1, {"order_id": "o" * 256})],
             "INVALID_COUNT: "),
            # The earlier line items pass: the later one's problem is the reason.
            (lambda e: [(e + "-1", self.cat.base, 1), (e + "-2", self.cat.base, 1, {"description": "d" * 2001})],
             "INVALID_REQUEST: lineItems[2]/description is longer than 2000 characters"),
            (lambda e: [(e + "-1", self.cat.base, 1), (e + "-2", self.cat.base, 1), (e + "-2", self.cat.base, 1)],
             "DUPLICATE_IN_REQUEST: activationId '"),
        ]
        for items, reason in cases:
            eid = "E-" + token(12)
            with self.subTest(reason=reason):
                r = self.create([{"eid": eid, "items": items(eid)}])
                self.assertEqual(r.status_text, "FAILURE", r.body)
                got = r.find("f:failedData/f:failedSimpleEntitlement").findtext(n("reason"))
                self.assertTrue(got.startswith(reason), (reason, got))
                self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])
        # CREATE_OR_IGNORE skips an entitlement that exists as success,
        # whatever the rest of the request says, and changes nothing.
        eid = "E-" + token(12)
        self.assertEqual(self.create([{"eid": eid, "items": [(eid + "-1", self.cat.base, 1)]}]).status_text, "SUCCESS")
        own = [{"description": "d" * 2001}, {"sold_to": "s" * 300}]
        for e in [{"items": items(eid)} for items, _ in cases] + own:
            r = self.create([dict(e, eid=eid)], "CREATE_OR_IGNORE")
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            self.assertEqual(psql("SELECT count(*) FROM line_items li JOIN entitlements e ON e.id = li.entitlement_id "
                                  "WHERE e.entitlement_id = :'v1'", eid), [["1"]])

    def test_concurrent_creates_of_a_new_id_with_an_op_type_all_succeed(self):
        """Four requests at once create the same new entitlementId, each
        with a line item of its own: with CREATE_OR_UPDATE each succeeds and
        every line item is stored (those that lost the race to insert it
        update it, as one request later would); with CREATE_OR_IGNORE each
        succeeds and one request's line item is stored."""
        for op, items in (("CREATE_OR_UPDATE", 4), ("CREATE_OR_IGNORE", 1)):
            eid = "E-" + token(12)
            results, lock, go = [], threading.Lock(), threading.Barrier(4)

            def one(i):
                c = Client(self.daemon, self.user)
                go.wait()
                r = c.call(create_body([{"eid": eid, "items": [(f"{eid}-{i}", self.cat.base, 2)]}], op))
                c.close()
                with lock:
                    results.append(r.status_text)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, ["SUCCESS"] * 4, op)
            self.assertEqual(psql("SELECT count(*) FROM line_items li JOIN entitlements e ON e.id = li.entitlement_id "
                                  "WHERE e.entitlement_id = :'v1'", eid), [[str(items)]], op)

    def test_repeated_activation_ids_are_duplicates_in_the_request(self):
        eid, aid = "E-" + token(12), "A-" + token(12)
        r = self.create([{"eid": eid, "items": [(aid, self.cat.base, 1), (aid, self.cat.base, 2)]}])
        self.assertEqual(r.status_text, "FAILURE", r.body)
        reason = r.text("f:failedData/f:failedSimpleEntitlement/f:reason")
        self.assertTrue(reason.startswith("DUPLICATE_IN_REQUEST: "), reason)
        self.assertIn(aid, reason)
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])
        # Across entitlements of one request: the first one has it.
        e1, e2 = "E-" + token(12), "E-" + token(12)
        r = self.create([{"eid": e1, "items": [(aid, self.cat.base, 1)]},
                         {"eid": e2, "items": [(e2 + "-1", self.cat.base, 1), (aid, self.cat.base, 1)]}])
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        self.assertEqual(r.text("f:responseData/f:createdSimpleEntitlement/f:entitlementId"), e1)
        failed = r.find("f:failedData/f:failedSimpleEntitlement")
        self.assertEqual(failed.findtext(f"{n('simpleEntitlement')}/{n('entitlementId')}/{n('id')}"), e2)
        self.assertTrue(failed.findtext(n("reason")).startswith("DUPLICATE_IN_REQUEST: "), r.body)
        self.assertEqual(psql("SELECT e.entitlement_id FROM line_items li JOIN entitlements e ON e.id = "
                              "li.entitlement_id WHERE li.activation_id = :'v1'", aid), [[e1]])
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", e2), [["0"]])
        # An id already in the database (not repeated in the request) stays ACTIVATION_ID_EXISTS.
        r = self.create([{"eid": "E-" + token(12), "items": [(aid, self.cat.base, 1)]}])
        self.assertTrue(r.text("f:failedData/f:failedSimpleEntitlement/f:reason").startswith("ACTIVATION_ID_EXISTS"))

    def test_a_repeated_entitlement_id_is_a_duplicate_in_the_request(self):
        # Without an opType, the second of two simpleEntitlements with one
        # entitlementId fails as a repeated activation id does (it was
        # ENTITLEMENT_EXISTS, found taken by the first); the first is made.
        e1, e2 = "E-" + token(12), "E-" + token(12)
        r = self.create([{"eid": e1, "items": [(e1 + "-1", self.cat.base, 1)]},
                         {"eid": e1, "items": [(e1 + "-2", self.cat.base, 1)]},
                         {"eid": e2, "items": []}])
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        self.assertEqual([c.findtext(n("entitlementId")) for c in r.findall("f:responseData/f:createdSimpleEntitlement")],
                         [e1, e2])
        failed = r.find("f:failedData/f:failedSimpleEntitlement")
        self.assertEqual(failed.findtext(n("reason")),
                         f"DUPLICATE_IN_REQUEST: entitlementId '{e1}' appears more than once in the request")
        self.assertEqual(psql("SELECT li.activation_id FROM line_items li JOIN entitlements e ON e.id = "
                              "li.entitlement_id WHERE e.entitlement_id = :'v1'", e1), [[e1 + "-1"]])
        # Taken before the request: ENTITLEMENT_EXISTS still.
        r = self.create([{"eid": e2, "items": []}])
        self.assertTrue(r.text("f:failedData/f:failedSimpleEntitlement/f:reason").startswith("ENTITLEMENT_EXISTS"),
                        r.body)
        # With an opType, the second finds the first and ignores or updates it.
        for op in ("CREATE_OR_IGNORE", "CREATE_OR_UPDATE"):
            e3 = "E-" + token(12)
            r = self.create([{"eid": e3, "items": [(e3 + "-1", self.cat.base, 1)]},
                             {"eid": e3, "items": [(e3 + "-2", self.cat.base, 1)]}], op)
            self.assertEqual(r.status_text, "SUCCESS", (op, r.body))

    def test_the_first_line_item_that_fails_names_the_reason(self):
        # The line items are checked in request order, all of one item's
        # checks before the next item's, as if written one at a time.
        taken_eid, taken = "E-" + token(12), "A-" + token(12)
        self.assertEqual(self.create([{"eid": taken_eid, "items": [(taken, self.cat.base, 1)]}]).status_text,
                         "SUCCESS")
        nope = ("Nope-" + token(6), "1")
        cases = [
            ([("A-" + token(12), nope, 1), (taken, self.cat.base, 1)], "PRODUCT_NOT_FOUND"),
            ([(taken, self.cat.base, 1), ("A-" + token(12), nope, 1)], "ACTIVATION_ID_EXISTS"),
            ([("A-" + token(12), self.cat.base, 0), ("bad/id", self.cat.base, 1)], "INVALID_COUNT"),
            ([("bad/id", self.cat.base, 1), (taken, nope, 1)], "INVALID_ACTIVATION_ID"),
        ]
        for items, code in cases:
            with self.subTest(code=code):
                eid = "E-" + token(12)
                r = self.create([{"eid": eid, "items": items}])
                self.assertEqual(r.status_text, "FAILURE", r.body)
                self.assertTrue(r.text("f:failedData/f:failedSimpleEntitlement/f:reason").startswith(code + ": "),
                                r.body)
                self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])
        # CREATE_OR_UPDATE: an id the entitlement holds is left alone, a new
        # one is added, and one another entitlement holds fails the whole.
        held = taken_eid + "-2"
        self.assertEqual(self.create([{"eid": taken_eid, "items": [(held, self.cat.base, 3)]}],
                                     "CREATE_OR_UPDATE").status_text, "SUCCESS")
        other_eid, other = "E-" + token(12), "A-" + token(12)
        self.assertEqual(self.create([{"eid": other_eid, "items": [(other, self.cat.base, 1)]}]).status_text, "SUCCESS")
        fresh = taken_eid + "-3"
        r = self.create([{"eid": taken_eid, "items": [(held, self.cat.base, 9), (fresh, self.cat.base, 1),
                                                      (other, self.cat.base, 1)]}], "CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "FAILURE", r.body)
        self.assertTrue(r.text("f:failedData/f:failedSimpleEntitlement/f:reason").startswith("ACTIVATION_ID_EXISTS: "))
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", fresh), [["0"]])
        r = self.create([{"eid": taken_eid, "items": [(held, self.cat.base, 9), (fresh, self.cat.base, 1)]}],
                        "CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT activation_id, number_of_copies FROM line_items WHERE activation_id IN "
                              "(:'v1', :'v2') ORDER BY activation_id", held, fresh), [[held, "3"], [fresh, "1"]])

    def test_a_bad_value_faults_before_anything_is_created(self):
        e1, e2 = "E-" + token(12), "E-" + token(12)
        body = create_body([{"eid": e1, "items": [(e1 + "-1", self.cat.base, 1)]},
                            {"eid": e2, "items": [(e2 + "-1", self.cat.base, "many")]}])
        # Without the schema check in front, the converter finds the value.
        lax = Daemon(ENTITLEMENTD_VALIDATE_XML=0).start()
        try:
            r = Client(lax, self.user).raw(envelope(body))
        finally:
            self.assertEqual(lax.stop(), 0)
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertIn("numberOfCopies: 'many' is not an integer", r.faultstring)
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", e1), [["0"]])

    def test_maintenance_line_items_are_refused_not_dropped(self):
        e1, e2 = "E-" + token(12), "E-" + token(12)
        body = create_body([{"eid": e1, "items": [(e1 + "-1", self.cat.base, 1)]},
                            {"eid": e2, "items": [(e2 + "-1", self.cat.base, 1)]}])
        maint = (f"<v4:maintenanceLineItems><v4:activationId><v4:id>{e2}-M</v4:id></v4:activationId>"
                 f"<v4:expirationDate>2028-01-31</v4:expirationDate></v4:maintenanceLineItems>")
        # After the lineItems of the second entitlement.
        at = body.index("<v4:autoDeploy>", body.index(e2))
        body = body[:at] + maint + body[at:]
        r = self.client.call(body)
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        failed = r.find("f:failedData/f:failedSimpleEntitlement")
        self.assertEqual(failed.findtext(f"{n('simpleEntitlement')}/{n('entitlementId')}/{n('id')}"), e2)
        self.assertEqual(failed.findtext(n("reason")), "INVALID_REQUEST: maintenanceLineItems are not supported")
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", e2), [["0"]])
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", e1), [["1"]])
        # CREATE_OR_IGNORE skips the one that exists whatever it says; with
        # CREATE_OR_UPDATE it fails as a new one does.
        r = self.client.call(body.replace("</v4:createSimpleEntitlementRequest>",
                                          "<v4:opType>CREATE_OR_IGNORE</v4:opType></v4:createSimpleEntitlementRequest>"))
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)  # e2 is still new
        self.client.call(create_body([{"eid": e2, "items": []}]))
        for op, status in (("CREATE_OR_IGNORE", "SUCCESS"), ("CREATE_OR_UPDATE", "PARTIAL_FAILURE")):
            r = self.client.call(body.replace("</v4:createSimpleEntitlementRequest>",
                                              f"<v4:opType>{op}</v4:opType></v4:createSimpleEntitlementRequest>"))
            self.assertEqual(r.status_text, status, r.body)
        self.assertEqual(psql("SELECT count(*) FROM line_items li JOIN entitlements e ON e.id = li.entitlement_id "
                              "WHERE e.entitlement_id = :'v1'", e2), [["0"]])

    def test_create_or_update_leaves_obsolete_entitlements_alone(self):
        eid = "E-" + token(12)
        self.assertEqual(self.create([{"eid": eid, "items": [(eid + "-1", self.cat.base, 1)],
                                       "sold_to": "Before"}]).status_text, "SUCCESS")
        r = self.client.call(set_entitlement_state_body([(eid, "OBSOLETE")]))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        r = self.create([{"eid": eid, "items": [(eid + "-2", self.cat.base, 1)], "sold_to": "After"}],
                        "CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "FAILURE", r.body)
        reason = r.text("f:failedData/f:failedSimpleEntitlement/f:reason")
        self.assertTrue(reason.startswith("INVALID_STATE: "), reason)
        self.assertIn("OBSOLETE", reason)
        self.assertEqual(psql("SELECT sold_to, state FROM entitlements WHERE entitlement_id = :'v1'", eid),
                         [["Before", "OBSOLETE"]])
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", eid + "-2"), [["0"]])
        # CREATE_OR_IGNORE still reports it as there, unchanged.
        r = self.create([{"eid": eid, "items": [(eid + "-2", self.cat.base, 1)]}], "CREATE_OR_IGNORE")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", eid + "-2"), [["0"]])

    def test_create_or_update_adds_no_deployed_line_item_to_an_inactive_entitlement(self):
        eid = "E-" + token(12)
        self.assertEqual(self.create([{"eid": eid, "items": [(eid + "-1", self.cat.base, 1)]}]).status_text,
                         "SUCCESS")
        self.assertEqual(self.client.call(set_entitlement_state_body([(eid, "INACTIVE")])).status_text, "SUCCESS")
        r = self.create([{"eid": eid, "items": [(eid + "-2", self.cat.base, 1)]}], "CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "FAILURE", r.body)
        self.assertTrue(r.text("f:failedData/f:failedSimpleEntitlement/f:reason").startswith("INVALID_STATE: "))
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE activation_id = :'v1'", eid + "-2"), [["0"]])
        # Without autoDeploy it is added as DRAFT, and deployed with the entitlement.
        r = self.create([{"eid": eid, "items": [(eid + "-2", self.cat.base, 1)], "auto_deploy": False}],
                        "CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(psql("SELECT state FROM line_items WHERE activation_id = :'v1'", eid + "-2"), [["DRAFT"]])
        self.assertEqual(self.client.call(set_entitlement_state_body([(eid, "DEPLOYED")])).status_text, "SUCCESS")
        self.assertEqual(psql("SELECT state FROM line_items WHERE activation_id = :'v1'", eid + "-2"),
                         [["DEPLOYED"]])

    def test_create_rejects_bad_ids_and_counts(self):
        for eid, code in (("bad/id", "INVALID_ENTITLEMENT_ID"), ("x" * 256, "INVALID_ENTITLEMENT_ID")):
            r = self.create([{"eid": eid, "items": []}])
            self.assertEqual(r.status_text, "FAILURE")
            self.assertTrue(r.text("f:failedData/f:failedSimpleEntitlement/f:reason").startswith(code), r.body)
        # Empty after trimming white space, or with control characters (DEL, C1,
        # U+2028/U+2029; C0 ones other than tab, LF, CR are not XML at all).
        tag = token(8)
        for bad in ("", " ", "\u00a0\u2003", "a\tb", "a\x7fb", "a\u0085b", "a\u009fb", "a\u2028b", "a\u2029b"):
            with self.subTest(bad=bad):
                r = self.create([{"eid": bad, "items": []}])
                self.assertEqual(r.status_text, "FAILURE", r.body)
                reason = r.text("f:failedData/f:failedSimpleEntitlement/f:reason")
                self.assertTrue(reason.startswith("INVALID_ENTITLEMENT_ID: "), reason)
                eid = "E-" + tag + str(len(bad))
                r = self.create([{"eid": eid, "items": [(bad, self.cat.base, 1)]}])
                self.assertEqual(r.status_text, "FAILURE", r.body)
                reason = r.text("f:failedData/f:failedSimpleEntitlement/f:reason")
                self.assertTrue(reason.startswith("INVALID_ACTIVATION_ID: "), reason)
                self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid),
                                 [["0"]])
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id IN ('', ' ')"), [["0"]])
        eid = "E-" + token(10)
        r = self.create([{"eid": eid, "items": [(eid + "-1", self.cat.base, 0)]}])
        self.assertTrue(r.text("f:failedData/f:failedSimpleEntitlement/f:reason").startswith("INVALID_COUNT"))
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])
        # A line item whose activation id was to be generated is named by
        # its place: its id was never made, nor shown.
        r = self.create([{"eid": eid, "items": [(eid + "-1", self.cat.base, 1), (None, self.cat.base, -2,
                                                                                   {"auto": True})]}])
        self.assertEqual(r.text("f:failedData/f:failedSimpleEntitlement/f:reason"),
                         "INVALID_COUNT: numberOfCopies of lineItems 2 must be at least 1", r.body)
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])
        # Integers beyond 64 bits (an xsd:integer has no bound) fail their
        # entitlement, not the request: the other one is created.
        other = "E-" + token(10)
        r = self.create([{"eid": other, "items": [(other + "-1", self.cat.base, 1)]},
                         {"eid": eid, "items": [(eid + "-1", self.cat.base, "9223372036854775808")]}])
        self.assertEqual(r.status_text, "PARTIAL_FAILURE", r.body)
        self.assertEqual(r.text("f:failedData/f:failedSimpleEntitlement/f:reason"),
                         f"INVALID_COUNT: numberOfCopies of line item '{eid}-1' must be between 1 and "
                         "9223372036854775807", r.body)
        term = "<v4:term><v4:numDuration>18446744073709551616</v4:numDuration><v4:durationUnit>YEARS</v4:durationUnit></v4:term>"
        r = self.client.call(create_full_body([entitlement_full_xml(eid, line_item_full_xml(
            "lineItems", eid + "-1", self.cat.base, 1, {"term": term}))]))
        self.assertEqual(r.text("f:failedData/f:failedSimpleEntitlement/f:reason"),
                         "INVALID_REQUEST: lineItems[1]/term/numDuration 18446744073709551616 does not fit in 64 bits",
                         r.body)
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])

    def test_query_by_criteria(self):
        tag = token(10)
        e1, e2 = f"Q{tag}-a%_\\1", f"Q{tag}-b2"
        self.create([{"eid": e1.replace("%", "p").replace("\\", "s"), "items": [(f"Q{tag}-l1", self.cat.base, 4)],
                      "sold_to": "Initech " + tag},
                     {"eid": e2, "items": [(f"Q{tag}-l2", self.cat.upsell, 1)], "sold_to": "Umbrella " + tag}])
        e1 = e1.replace("%", "p").replace("\\", "s")

        def ids(criteria, batch=100, page=None):
            r = self.client.call(search_body(criteria, batch, page))
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            return [e.findtext(f"{n('simpleEntitlement')}/{n('entitlementId')}/{n('id')}")
                    for e in r.findall("f:entitlement")]

        self.assertEqual(ids(simple_query("entitlementId", e2)), [e2])
        self.assertEqual(sorted(ids(simple_query("entitlementId", f"Q{tag}", "STARTS_WITH"))), sorted([e1, e2]))
        self.assertEqual(ids(simple_query("entitlementId", f"{tag[2:]}-b2", "ENDS_WITH")), [e2])
        self.assertEqual(ids(simple_query("soldTo", "Initech " + tag, "CONTAINS")), [e1])
        self.assertEqual(ids(simple_query("entitlementId", f"Q{tag}", "STARTS_WITH") +
                             simple_query("productName", self.cat.upsell[0])), [e2])
        # LIKE metacharacters in input match themselves only.
        self.assertEqual(ids(simple_query("entitlementId", f"Q{tag}-a", "STARTS_WITH")), [e1])
        self.assertEqual(ids(simple_query("entitlementId", f"Q{tag}_", "STARTS_WITH")), [])
        self.assertEqual(ids(simple_query("entitlementId", "%", "CONTAINS")), [])
        self.assertEqual(ids(simple_query("entitlementId", "' OR 1=1 --")), [])
        # An entitlement created without a soldTo is answered with an empty
        # one, and an empty value finds it (it found none of them).
        e3 = f"R{tag}-c3"
        self.create([{"eid": e3, "items": []}])
        mine = simple_query("entitlementId", tag, "CONTAINS")
        self.assertEqual(ids(mine + simple_query("soldTo", "")), [e3])
        for how in ("STARTS_WITH", "CONTAINS", "ENDS_WITH"):
            self.assertEqual(sorted(ids(mine + simple_query("soldTo", "", how))), sorted([e1, e2, e3]), how)
        self.assertEqual(ids(mine + simple_query("soldTo", "Umbrella", "STARTS_WITH")), [e2])
        state = f"<v4:state><v4:value>DEPLOYED</v4:value><v4:searchType>EQUALS</v4:searchType></v4:state>"
        self.assertEqual(sorted(ids(simple_query("entitlementId", f"Q{tag}", "STARTS_WITH") + state)),
                         sorted([e1, e2]))
        # Paging: most recently changed first, no repeats.
        p1 = ids(simple_query("entitlementId", f"Q{tag}", "STARTS_WITH"), batch=1, page=1)
        p2 = ids(simple_query("entitlementId", f"Q{tag}", "STARTS_WITH"), batch=1, page=2)
        self.assertEqual(len(p1) + len(p2), 2)
        self.assertNotEqual(p1, p2)
        # Pages past the last are empty, however far (xsd:int's largest, and a
        # page whose offset would be beyond 64 bits).
        crit = simple_query("entitlementId", f"Q{tag}", "STARTS_WITH")
        self.assertEqual(ids(crit, batch=1, page=3), [])
        self.assertEqual(ids(crit, batch=2000, page=2 ** 31 - 1), [])
        self.assertEqual(ids(crit, batch=2000, page=2 ** 62), [])
        r = self.client.call(search_body(crit, 1, 0))
        self.assertTrue(r.text("f:statusInfo/f:reason").startswith("INVALID_REQUEST: pageNumber must be at least 1"))

        r = self.client.call(search_body(simple_query("entitlementId", e1)))
        li = r.find("f:entitlement/f:simpleEntitlement/f:lineItems")
        self.assertEqual(li.findtext(f"{n('activationId')}/{n('id')}"), f"Q{tag}-l1")
        self.assertEqual(li.findtext(n("numberOfCopies")), "4")
        self.assertEqual(li.findtext(n("state")), "DEPLOYED")
        self.assertEqual(li.findtext(f"{n('product')}/{n('primaryKeys')}/{n('name')}"), self.cat.base[0])

    def test_query_order_is_the_line_items_last_change(self):
        # Most recently changed line item first; a change of the
        # entitlement's own fields does not move it, and one without line
        # items comes last.
        tag = token(10)
        a, b, c = f"O{tag}-a", f"O{tag}-b", f"O{tag}-c"
        for e in (a, b, c):  # one request each: b's line item is newer than a's
            self.create([{"eid": e, "items": [] if e == c else [(e + "-1", self.cat.base, 2)]}])

        def order():
            r = self.client.call(search_body(simple_query("entitlementId", f"O{tag}", "STARTS_WITH")))
            self.assertEqual(r.status_text, "SUCCESS", r.body)
            return [e.findtext(f"{n('simpleEntitlement')}/{n('entitlementId')}/{n('id')}")
                    for e in r.findall("f:entitlement")]

        self.assertEqual(order(), [b, a, c])
        r = self.create([{"eid": a, "description": "changed", "items": []}], op_type="CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(order(), [b, a, c])
        r = self.create([{"eid": a, "items": [(a + "-2", self.cat.base, 1)]}], op_type="CREATE_OR_UPDATE")
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(order(), [a, b, c])

    def test_refused_units_are_logged_once_per_request(self):
        # One line per request, with the first unit that failed: a line
        # per unit let one request of many refused units write megabytes
        # (each line different, so past the repeat suppression).
        small = Daemon(ENTITLEMENTD_MAX_UNITS=5).start()
        try:
            c = Client(small, self.user)
            ghost = "GHOST-" + token(8)
            eid = "E-" + token(10)
            calls = [
                ("setEntitlementState", set_entitlement_state_body([(f"{ghost}-{i}", "DEPLOYED") for i in range(50)])),
                ("setEntitlementState", set_entitlement_state_body([(f"{ghost}-{i}", "DEPLOYED") for i in range(3)])),
                ("setLineItemState", set_line_item_state_body([(f"{ghost}-{i}", "INACTIVE", None) for i in range(3)])),
                ("deleteEntitlement", delete_body([f"{ghost}-{i}" for i in range(3)])),
                ("createSimpleEntitlement", create_body([{"eid": f"{eid}-{i}", "items": [(f"{eid}-{i}", ("Nope-"
                                                          + ghost, "1"), 1)]} for i in range(3)])),
                ("upgradeLicense", lifecycle_body("upgradeLicense", [
                    {"items": [change_item_xml(f"{ghost}-{i}", None, self.cat.upgrade)]} for i in range(3)])),
            ]
            for op, body in calls:
                r = c.call(body)
                self.assertEqual(r.status_text, "FAILURE", r.body)
            c.close()
            time.sleep(0.2)
            log = small.read_log()
        finally:
            self.assertEqual(small.stop(), 0)
        lines = [line for line in log.splitlines()
                 if ghost in line or eid in line or "BATCH_TOO_LARGE: 50 entitlements" in line]
        self.assertEqual(len(lines), len(calls), lines)
        for (op, _), line in zip(calls, lines):
            self.assertRegex(line, rf"{op}: 0 of \d+ [a-z ]+ applied; the first to fail, 1: [A-Z_]+: ")
        self.assertIn("0 of 50 entitlements applied; the first to fail, 1: BATCH_TOO_LARGE: 50 entitlements", lines[0])

    def test_query_batch_size_bounds(self):
        for bad in (0, 2001, "9223372036854775808", "-9223372036854775809"):
            r = self.client.call(search_body(batch=bad))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.status_text, "FAILURE", r.body)
            self.assertTrue(r.reason_text.startswith("INVALID_REQUEST"), r.body)

        # A page beyond 64 bits is as empty as any page past the last; one
        # below is as refused as 0.
        r = self.client.call(search_body(batch=10, page="9223372036854775808"))
        self.assertEqual(r.status_text, "SUCCESS", r.body)
        self.assertEqual(r.findall("f:entitlement"), [])
        r = self.client.call(search_body(batch=10, page="-9223372036854775809"))
        self.assertEqual(r.status_text, "FAILURE", r.body)
        self.assertTrue(r.reason_text.startswith("INVALID_REQUEST: pageNumber"), r.body)

class DatesTest(DaemonTestCase):
    """xs:date values of requests are checked where the request is read: a
    value that is not a date faults the request, as a wrong integer does.
    The daemon checks no schema here (the default in production), so the
    values reach the converter; with ENTITLEMENTD_VALIDATE_XML=1 libxml2
    refuses most of them first, also as a Client fault."""

    daemon_env = {"ENTITLEMENTD_VALIDATE_XML": "0"}
    BAD = ("2027-13-45", "2027-02-30", "abc", "", "2027-1-1", "2027-01-01T00:00:00", "2027-01-01 UTC", "0000-01-01")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def call(self, body):
        return self.client.call(body)

    def refused(self, body, want):
        r = self.client.raw(envelope(body))
        self.assertEqual(r.status, 500, r.body)
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertEqual(r.faultstring, want)

    def test_create_names_the_element_and_value(self):
        for field, kw in (("expirationDate", "expiration"), ("startDate", "start")):
            for bad in self.BAD:
                with self.subTest(field=field, bad=bad):
                    good, eid = "E-" + token(12), "E-" + token(12)
                    self.refused(create_body([{"eid": good, "items": [(good + "-1", self.cat.base, 1)]},
                                              {"eid": eid, "items": [(eid + "-1", self.cat.base, 1, {kw: bad})]}]),
                                 f"{field}: '{bad}' is not a valid date (YYYY-MM-DD)")
                    self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id IN (:'v1', :'v2')",
                                          good, eid), [["0"]])
        # A time zone is allowed, as xs:date allows it; the day is kept.
        for value in ("2027-06-30Z", "2027-06-30+02:00", "2027-06-30-14:00", " 2027-06-30 "):
            with self.subTest(value=value):
                eid = "E-" + token(12)
                r = self.call(create_body([{"eid": eid, "items": [(eid + "-1", self.cat.base, 1,
                                                                          {"expiration": value})]}]))
                self.assertEqual(r.status_text, "SUCCESS", r.body)
                self.assertEqual(psql("SELECT expiration_date::text FROM line_items WHERE activation_id = :'v1'",
                                      eid + "-1"), [["2027-06-30"]])

    def test_upgrade_and_renew_name_the_element_and_value(self):
        eid = "E-" + token(12)
        self.assertEqual(self.call(create_body([{"eid": eid, "items": [(eid + "-1", self.cat.base, 10,
                                                                               {"expiration": "2027-01-31"})]}]))
                         .status_text, "SUCCESS")
        item = change_item_xml(eid + "-1", None, self.cat.upgrade, 1, allow=True, auto=True).replace(
            "<v4:numberOfCopies>1</v4:numberOfCopies>",
            "<v4:numberOfCopies>1</v4:numberOfCopies><v4:startDate>2027-02-30</v4:startDate>")
        self.refused(lifecycle_body("upgradeLicense", [{"items": [item]}]),
                     "startDate: '2027-02-30' is not a valid date (YYYY-MM-DD)")
        self.refused(renew_body([{"items": [renew_item_xml(eid + "-1", auto=True, expiration="2028-13-01")]}]),
                     "expirationTerms/expirationDate: '2028-13-01' is not a valid date (YYYY-MM-DD)")
        self.assertEqual(psql("SELECT count(*), sum(number_of_copies) FROM line_items li JOIN entitlements e ON "
                              "e.id = li.entitlement_id WHERE e.entitlement_id = :'v1'", eid), [["1", "10"]])

    def test_query_and_count_dates(self):
        for bad in ("2027-13-45", "abc", "2027-1-1"):
            crit = f"<v4:createdOn><v4:value>{bad}</v4:value><v4:searchType>AFTER</v4:searchType></v4:createdOn>"
            want = f"createdOn: '{bad}' is not a valid date (YYYY-MM-DD)"
            with self.subTest(bad=bad):
                self.refused(search_body(crit), want)
                self.refused(count_body(crit), want)
        crit = "<v4:createdOn><v4:value>2000-01-01+01:00</v4:value><v4:searchType>AFTER</v4:searchType></v4:createdOn>"
        self.assertEqual(self.call(search_body(crit)).status_text, "SUCCESS")
        self.assertEqual(self.call(count_body(crit)).status_text, "SUCCESS")
        # createdOn and lastModifiedDate are instants: a day with a zone is
        # that zone's calendar day (a date column's day is as written).
        eid = "TZ-" + token(10)
        self.assertEqual(self.call(create_body([{"eid": eid, "items": [(eid + "-1", self.cat.base, 1)]}])).status_text,
                         "SUCCESS")
        at = datetime.datetime.fromisoformat(
            psql("SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM entitlements "
                 "WHERE entitlement_id = :'v1'", eid)[0][0])
        for zone, hours in (("+14:00", 14), ("-12:00", -12), ("Z", 0), ("+05:30", 5.5)):
            local = (at + datetime.timedelta(hours=hours)).date()
            for tag in ("createdOn", "lastModifiedDate"):
                for day, want in ((local, "1"), (local - datetime.timedelta(days=1), "0"),
                                  (local + datetime.timedelta(days=1), "0")):
                    crit = (simple_query("entitlementId", eid) + f"<v4:{tag}><v4:value>{day}{zone}</v4:value>"
                            f"<v4:searchType>ON</v4:searchType></v4:{tag}>")
                    with self.subTest(tag=tag, zone=zone, day=str(day)):
                        r = self.call(count_body(crit))
                        self.assertEqual(r.text("f:count"), want, r.body)


if __name__ == "__main__":
    unittest.main()
