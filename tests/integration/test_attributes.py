"""The fields without a column of their own (attributes, alternate license
models, policies, time zone, start and version date options, entitled
products, channel partners): kept by createSimpleEntitlement, upgrade,
upsell and renew, returned by getEntitlementsQuery, and searched by the
entitlementAttributes criterion."""
import unittest

from lxml import etree

from builders import (attribute_query, attributes_xml, change_item_xml, count_body, create_full_body,
                      entitlement_full_xml, lifecycle_body, line_item_full_xml, product_xml, renew_body,
                      renew_item_xml, search_body, simple_query)
from catalog import Catalog
from harness import NS, Client, Daemon, DaemonTestCase, ctl, envelope, psql, token

# The elements of a line item this test is about, in schema order (the
# query answers them in that order, which the schema check enforces).
ITEM_FIELDS = ("licenseModel", "alternateLicenseModel1", "alternateLicenseModel2", "licenseModelAttributes",
               "FNPTimeZoneValue", "policyAttributes", "startDateOption", "versionDateAttributes",
               "entitledProducts", "lineItemAttributes")
ENT_FIELDS = ("channelPartners", "entitlementAttributes")

HOSTILE = (
    "it's \"quoted\"",
    "back\\slash \\\\ double \\",
    "\\u0000 is not a NUL, \\n not a newline",
    "ünïcødé ✓ 中文 😀 e\u0301 \u200b zero width",
    "x" * 300,
    "é" * 300,
    "  padded with spaces  ",
    "line\nbreak\ttab",
    "<xml> & 'amp' ]]> &amp;",
    "{\"json\": [1, 2], \"k\": null}",
    "%_\\ LIKE metacharacters",
    "'; DROP TABLE entitlements; --",
    "",
)


def q(tag):
    return f"{{{NS}}}{tag}"


def canon(el):
    """An element as nested tuples (local name, text of a leaf, children),
    for comparing what was sent with what came back."""
    if el is None:
        return None
    kids = tuple(canon(c) for c in el)
    return (etree.QName(el).localname, None if kids else (el.text or ""), kids)


def sent_elements(body, tag):
    """The elements named tag of a request body, parsed as the daemon reads it."""
    return etree.fromstring(envelope(body)).findall(f".//{q(tag)}")


def license_model(tag, name=None, uid=None):
    keys = f"<v4:primaryKeys><v4:name>{name}</v4:name></v4:primaryKeys>" if name is not None else ""
    u = f"<v4:uniqueId>{uid}</v4:uniqueId>" if uid is not None else ""
    return f"<v4:{tag}>{u}{keys}</v4:{tag}>"


def policy(tag, count, duration, unit):
    return (f"<v4:{tag}><v4:allowedCount>{count}</v4:allowedCount><v4:policyTerm><v4:duration>{duration}"
            f"</v4:duration><v4:durationUnit>{unit}</v4:durationUnit></v4:policyTerm></v4:{tag}>")


def all_policies():
    return ("<v4:policyAttributes>" + policy("rehostsPolicy", 3, 1, "YEARS") + policy("returnsPolicy", 0, 30, "DAYS")
            + policy("repairsPolicy", 12, 6, "MONTHS")
            + "<v4:extraActivationsPolicy><v4:allowedCount>7</v4:allowedCount></v4:extraActivationsPolicy>"
            + "<v4:cancelLicensePolicy><v4:isCancelLicense>true</v4:isCancelLicense></v4:cancelLicensePolicy>"
            + "<v4:virtualLicensePolicy><v4:isVirtualLicense>false</v4:isVirtualLicense></v4:virtualLicensePolicy>"
            + "<v4:reinstallPolicy>" + policy("defaultPolicy", 2, 2, "WEEKS") + "<v4:advancedPolicy>"
            + policy("umn1Policy", 1, 1, "DAYS") + policy("umn2Policy", 2, 2, "WEEKS")
            + policy("umn3Policy", 3, 3, "MONTHS") + policy("midPolicy", 4, 4, "YEARS")
            + "</v4:advancedPolicy></v4:reinstallPolicy>"
            + "<v4:acpiGenerationIdLicensePolicy><v4:useACPIGenerationId>true</v4:useACPIGenerationId>"
            + "</v4:acpiGenerationIdLicensePolicy></v4:policyAttributes>")


def all_item_fields(tag, product):
    """Every element of ITEM_FIELDS, with every kind of value."""
    return {
        "licenseModel": license_model("licenseModel", "Nodelocked-" + tag),
        "alternateLicenseModel1": license_model("alternateLicenseModel1", "Floating-" + tag, "LM-UID-1"),
        "alternateLicenseModel2": license_model("alternateLicenseModel2", uid="LM-UID-2"),
        "licenseModelAttributes": attributes_xml("licenseModelAttributes", [
            ("HOSTID_TYPE", {"stringValue": "ETHER"}),
            ("OVERDRAFT", {"integerValue": "-5"}),
            ("BIG", {"integerValue": "9223372036854775807"}),
            ("BORROW", {"booleanValue": True}),
            ("NOTICE", {"booleanValue": False}),
            ("START", {"dateValue": "2027-02-28"}),
            ("EMPTY", {}),
            ("VENDOR_STRINGS", {"arrayValue": ["a", "b", "a", ""]}),
            ("ALL", {"stringValue": "s", "dateValue": "2028-02-29", "booleanValue": True, "integerValue": "0",
                     "arrayValue": ["x"]}),
        ]),
        "FNPTimeZoneValue": "<v4:FNPTimeZoneValue>Europe/Berlin</v4:FNPTimeZoneValue>",
        "policyAttributes": all_policies(),
        "startDateOption": "<v4:startDateOption>DEFINE_AT_FIRST_ACTIVATION</v4:startDateOption>",
        "versionDateAttributes": ("<v4:versionDateAttributes><v4:versionOption>USE_START_DATE</v4:versionOption>"
                                  "<v4:duration><v4:numDuration>2</v4:numDuration><v4:durationUnit>MONTHS"
                                  "</v4:durationUnit></v4:duration></v4:versionDateAttributes>"),
        "entitledProducts": ("<v4:entitledProducts><v4:entitledProduct>" + product_xml("product", *product)
                             + "<v4:quantity>2</v4:quantity></v4:entitledProduct><v4:entitledProduct><v4:product>"
                             "<v4:uniqueId>HID-0</v4:uniqueId></v4:product><v4:quantity>1</v4:quantity>"
                             "</v4:entitledProduct><v4:entitledProduct><v4:quantity>0</v4:quantity>"
                             "</v4:entitledProduct></v4:entitledProducts>"),
        "lineItemAttributes": attributes_xml("lineItemAttributes", [
            ("CUSTOMER_REF", {"stringValue": "PO-" + tag}),
            ("SEATS", {"integerValue": "25"}),
        ]),
    }


def channel_partners(tag):
    return ("<v4:channelPartners><v4:channelPartner><v4:tierName>Distributor</v4:tierName><v4:accountUnit>"
            f"<v4:primaryKeys><v4:id>ACCT-{tag}</v4:id></v4:primaryKeys></v4:accountUnit><v4:contact>"
            "<v4:primaryKeys><v4:firstName>Ada</v4:firstName><v4:lastName>Lovelace</v4:lastName>"
            "<v4:emailAddress>ada@example.com</v4:emailAddress><v4:phoneNumber>+44 20 7946 0000</v4:phoneNumber>"
            "</v4:primaryKeys></v4:contact><v4:currentOwner>true</v4:currentOwner></v4:channelPartner>"
            "<v4:channelPartner><v4:tierName>Reseller</v4:tierName><v4:accountUnit><v4:uniqueId>ACC-UID"
            "</v4:uniqueId></v4:accountUnit><v4:contact><v4:uniqueId>USR-1</v4:uniqueId><v4:userName>bob"
            "</v4:userName></v4:contact></v4:channelPartner><v4:channelPartner><v4:tierName></v4:tierName>"
            "<v4:accountUnit></v4:accountUnit><v4:currentOwner>false</v4:currentOwner></v4:channelPartner>"
            "</v4:channelPartners>")


class AttributesTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def find_entitlement(self, eid):
        """The simpleEntitlement of eid as the query answers it (validated)."""
        r = self.ok(search_body(simple_query("entitlementId", eid)))
        found = r.findall("f:entitlement/f:simpleEntitlement")
        self.assertEqual(len(found), 1, r.body)
        return found[0]

    def found_item(self, eid, aid):
        for li in self.find_entitlement(eid).findall(q("lineItems")):
            if li.findtext(f"{q('activationId')}/{q('id')}") == aid:
                return li
        self.fail(f"no line item {aid} in {eid}")

    def assert_fields(self, sent, got, fields):
        for f in fields:
            with self.subTest(field=f):
                self.assertEqual(canon(got.find(q(f))), canon(sent.find(q(f))))

    def create_with_fields(self, fields=None, ent_attrs=None, partners=None, count=10, expiration=None):
        eid, aid = "A-" + token(12), "A-" + token(12)
        fields = dict(fields or {})
        if expiration is not None:
            fields["expirationDate"] = f"<v4:expirationDate>{expiration}</v4:expirationDate>"
            fields["term"] = ("<v4:term><v4:numDuration>1</v4:numDuration><v4:durationUnit>YEARS</v4:durationUnit>"
                              "</v4:term>")
        item = line_item_full_xml("lineItems", aid, self.cat.base, count, fields)
        body = create_full_body([entitlement_full_xml(eid, item, partners, ent_attrs)])
        self.ok(body)
        return eid, aid, body

    def test_create_keeps_and_returns_every_field(self):
        tag = token(8)
        fields = all_item_fields(tag, self.cat.upsell)
        ent_attrs = attributes_xml("entitlementAttributes", [
            ("Region", {"stringValue": "EMEA"}), ("Renewals", {"integerValue": "3"}),
            ("Signed", {"dateValue": "2026-12-31", "booleanValue": True}),
            ("Codes", {"arrayValue": ["A1", "B2"]})])
        eid, aid, body = self.create_with_fields(fields, ent_attrs, channel_partners(tag))
        ent = self.find_entitlement(eid)
        li = self.found_item(eid, aid)
        self.assert_fields(sent_elements(body, "lineItems")[0], li, ITEM_FIELDS)
        self.assert_fields(sent_elements(body, "simpleEntitlement")[0], ent, ENT_FIELDS)
        # One document per row, as JSON in the attributes column.
        doc = psql("SELECT attributes ->> 'FNPTimeZoneValue', attributes -> 'lineItemAttributes' -> 1 ->> "
                   "'integerValue', jsonb_typeof(attributes -> 'policyAttributes') FROM line_items "
                   "WHERE activation_id = :'v1'", aid)
        self.assertEqual(doc, [["Europe/Berlin", "25", "object"]])
        self.assertEqual(psql("SELECT attributes -> 'entitlementAttributes' -> 0 ->> 'stringValue' FROM "
                              "entitlements WHERE entitlement_id = :'v1'", eid), [["EMEA"]])

    def test_a_line_item_without_them_has_none(self):
        eid, aid, _ = self.create_with_fields()
        li = self.found_item(eid, aid)
        for f in ITEM_FIELDS:
            self.assertIsNone(li.find(q(f)), f)
        ent = self.find_entitlement(eid)
        for f in ENT_FIELDS:
            self.assertIsNone(ent.find(q(f)), f)
        self.assertEqual(psql("SELECT attributes IS NULL FROM line_items WHERE activation_id = :'v1'", aid),
                         [["t"]])
        # An empty list is kept as given: present, with no attribute.
        eid, aid, body = self.create_with_fields({"lineItemAttributes": "<v4:lineItemAttributes/>"},
                                                 "<v4:entitlementAttributes></v4:entitlementAttributes>")
        self.assertEqual(canon(self.found_item(eid, aid).find(q("lineItemAttributes"))),
                         ("lineItemAttributes", "", ()))
        self.assertEqual(canon(self.find_entitlement(eid).find(q("entitlementAttributes"))),
                         ("entitlementAttributes", "", ()))

    def test_dates_come_back_as_days(self):
        attrs = attributes_xml("lineItemAttributes", [("Z", {"dateValue": "2027-06-30Z"}),
                                                      ("P", {"dateValue": "2027-07-01+14:00"})])
        eid, aid, _ = self.create_with_fields({"lineItemAttributes": attrs})
        got = self.found_item(eid, aid).findall(f"{q('lineItemAttributes')}/{q('attribute')}/{q('dateValue')}")
        self.assertEqual([d.text for d in got], ["2027-06-30", "2027-07-01"])

    def test_hostile_values_round_trip(self):
        names = ["näme \"q\" \\ %_", "n" * 255, "\u00e9" * 255, "<&>"]
        ent_attrs = [(f"V{i}", {"stringValue": v, "arrayValue": [v, v]}) for i, v in enumerate(HOSTILE)]
        ent_attrs += [(n, {"stringValue": n}) for n in names]
        item_attrs = [(f"I{i}", {"stringValue": v}) for i, v in enumerate(HOSTILE)]
        fields = {"lineItemAttributes": attributes_xml("lineItemAttributes", item_attrs),
                  "FNPTimeZoneValue": f"<v4:FNPTimeZoneValue>{HOSTILE[0]}\\\u00e9</v4:FNPTimeZoneValue>"}
        eid, aid, body = self.create_with_fields(fields, attributes_xml("entitlementAttributes", ent_attrs))
        li = self.found_item(eid, aid)
        got = [(a.findtext(q("attributeName")), a.findtext(q("stringValue")))
               for a in li.findall(f"{q('lineItemAttributes')}/{q('attribute')}")]
        self.assertEqual(got, [(f"I{i}", v) for i, v in enumerate(HOSTILE)])
        self.assertEqual(li.findtext(q("FNPTimeZoneValue")), f"{HOSTILE[0]}\\\u00e9")
        ent = self.find_entitlement(eid)
        got = [(a.findtext(q("attributeName")), a.findtext(q("stringValue")),
                [x.text or "" for x in a.findall(q("arrayValue"))])
               for a in ent.findall(f"{q('entitlementAttributes')}/{q('attribute')}")]
        want = [(f"V{i}", v, [v, v]) for i, v in enumerate(HOSTILE)] + [(n, n, []) for n in names]
        self.assertEqual(got, want)
        # Every one of them is found again by its exact value.
        for i, v in enumerate(HOSTILE):
            with self.subTest(value=v[:20]):
                r = self.ok(search_body(simple_query("entitlementId", eid)
                                             + attribute_query([(f"V{i}", v, "EQUALS")])))
                self.assertEqual(len(r.findall("f:entitlement")), 1, r.body[:2000])
        for n in names:  # (with the id: an earlier run's entitlement has them too)
            r = self.ok(search_body(simple_query("entitlementId", eid) + attribute_query([(n, n, "EQUALS")])))
            self.assertEqual(len(r.findall("f:entitlement")), 1, r.body[:2000])

    def test_entitlementctl_shows_them_briefly_and_safely(self):
        item_attrs = [(f"K{i}", {"integerValue": str(i)}) for i in range(10)]
        item_attrs[0] = ("K0", {"stringValue": "\u009b2J \u00e9" + "x" * 100})
        fields = {"lineItemAttributes": attributes_xml("lineItemAttributes", item_attrs),
                  "FNPTimeZoneValue": "<v4:FNPTimeZoneValue>UTC</v4:FNPTimeZoneValue>"}
        eid, aid, _ = self.create_with_fields(
            fields, attributes_xml("entitlementAttributes", [("Region", {"stringValue": "EMEA"})]),
            channel_partners("CP"))
        out = ctl("entitlement", "show", eid).stdout
        self.assertIn('  entitlementAttributes "Region"="EMEA"; also channelPartners\n', out)
        line = next(l for l in out.splitlines() if l.lstrip().startswith("lineItemAttributes"))
        # Stored text is escaped, long values and lists cut.
        self.assertIn('"K0"="\\u009B2J \\u00E9xxx', line)
        self.assertNotIn("\u009b", out)
        self.assertIn('"K7"=7 ... (10 in all); also FNPTimeZoneValue', line)
        self.assertNotIn('"K8"', line)

    def test_create_or_update_replaces_the_lists_given(self):
        first = attributes_xml("entitlementAttributes", [("Region", {"stringValue": "EMEA"})])
        eid, aid, _ = self.create_with_fields(None, first, channel_partners("CP"))
        second = attributes_xml("entitlementAttributes", [("Region", {"stringValue": "APAC"}),
                                                          ("Tier", {"stringValue": "gold"})])
        new_aid = "A-" + token(12)
        item = line_item_full_xml("lineItems", new_aid, self.cat.base, 1,
                                  {"lineItemAttributes": attributes_xml("lineItemAttributes",
                                                                        [("New", {"stringValue": "yes"})])})
        self.ok(create_full_body([entitlement_full_xml(eid, item, None, second)], "CREATE_OR_UPDATE"))
        ent = self.find_entitlement(eid)
        self.assertEqual([a.findtext(q("stringValue")) for a in ent.findall(f"{q('entitlementAttributes')}/{q('attribute')}")],
                         ["APAC", "gold"])
        # Not given again: kept.
        self.assertEqual(canon(ent.find(q("channelPartners"))),
                         canon(sent_elements(channel_partners("CP"), "channelPartners")[0]))
        self.assertEqual(self.found_item(eid, new_aid).findtext(
            f"{q('lineItemAttributes')}/{q('attribute')}/{q('stringValue')}"), "yes")
        # Neither given: nothing changes.
        self.ok(create_full_body([entitlement_full_xml(eid, "")], "CREATE_OR_UPDATE"))
        ent = self.find_entitlement(eid)
        self.assertEqual(len(ent.findall(f"{q('entitlementAttributes')}/{q('attribute')}")), 2)
        self.assertIsNotNone(ent.find(q("channelPartners")))

    def upgrade_item(self, op, parent, product, fields):
        new_aid = "N-" + token(12)
        item = line_item_full_xml("lineItem", new_aid, product, 2, fields)
        return new_aid, change_item_xml(parent, None, None, allow=True, item=item)

    def test_upgrade_and_upsell_keep_them_on_the_new_line_item(self):
        for op, product in (("upgradeLicense", self.cat.upgrade), ("upsellLicense", self.cat.upsell)):
            with self.subTest(op=op):
                eid, parent, _ = self.create_with_fields()
                tag = token(6)
                fields = all_item_fields(tag, product)
                new_aid, item = self.upgrade_item(op, parent, product, fields)
                body = lifecycle_body(op, [{"items": [item]}])
                self.ok(body)
                li = self.found_item(eid, new_aid)
                self.assert_fields(sent_elements(body, "lineItem")[0], li, ITEM_FIELDS)
                # The parent keeps its own (none).
                self.assertIsNone(self.found_item(eid, parent).find(q("lineItemAttributes")))

    def test_upgrade_on_the_unit_path_keeps_them_too(self):
        # A unit whose parent an earlier unit of the request creates sends
        # the request down the unit path (one transaction per unit).
        eid, parent, _ = self.create_with_fields()
        fields = {"lineItemAttributes": attributes_xml("lineItemAttributes", [("Path", {"stringValue": "unit"})]),
                  "FNPTimeZoneValue": "<v4:FNPTimeZoneValue>UTC</v4:FNPTimeZoneValue>"}
        new_aid, first = self.upgrade_item("upgradeLicense", parent, self.cat.upgrade, fields)
        second = change_item_xml(new_aid, "N-" + token(12), self.cat.upgrade, 1, allow=True)
        r = self.ok(lifecycle_body("upgradeLicense", [{"items": [first]}, {"items": [second]}]),
                    "PARTIAL_FAILURE")
        self.assertEqual(r.text("f:responseData/f:entitlementData/f:entitlementRecordRefNo"), "1")
        li = self.found_item(eid, new_aid)
        self.assertEqual(li.findtext(f"{q('lineItemAttributes')}/{q('attribute')}/{q('stringValue')}"), "unit")
        self.assertEqual(li.findtext(q("FNPTimeZoneValue")), "UTC")

    def renewal_of(self, eid, parent, extra=""):
        """Renews one copy of parent (which keeps the others) for a year."""
        new_aid = "R-" + token(12)
        body = renew_body([{"items": [renew_item_xml(parent, new_aid, term=(1, "YEARS"), count=1, extra=extra)]}])
        self.ok(body)
        return new_aid, self.found_item(eid, new_aid), body

    def test_renewal_inherits_what_it_does_not_give(self):
        tag = token(8)
        fields = all_item_fields(tag, self.cat.upsell)
        eid, parent, body = self.create_with_fields(fields, expiration="2027-03-31")
        sent = sent_elements(body, "lineItems")[0]
        # Nothing given: the renewal carries the parent's license model and
        # every other field of ITEM_FIELDS.
        _, li, _ = self.renewal_of(eid, parent)
        self.assert_fields(sent, li, ITEM_FIELDS)
        self.assertEqual(li.findtext(q("lineItemType")), "RENEWAL")
        # What is given replaces the parent's (a list whole), the rest is inherited.
        extra = ("<v4:startDateOption>DEFINE_NOW</v4:startDateOption>"
                 + license_model("licenseModel", "Renewed-" + tag)
                 + attributes_xml("lineItemAttributes", [("RENEWED", {"booleanValue": True})]))
        _, li, rbody = self.renewal_of(eid, parent, extra)
        rsent = sent_elements(rbody, "renewParameters")[0]
        self.assert_fields(rsent, li, ("startDateOption", "licenseModel", "lineItemAttributes"))
        self.assert_fields(sent, li, ("alternateLicenseModel1", "alternateLicenseModel2", "licenseModelAttributes",
                                      "FNPTimeZoneValue", "policyAttributes", "versionDateAttributes",
                                      "entitledProducts"))

    def test_license_model_and_part_number_by_unique_id(self):
        # Either identifier, or both, is kept and returned: the name in its
        # column, the uniqueId in the document.
        def part(uid=None, pid=None):
            u = f"<v4:uniqueId>{uid}</v4:uniqueId>" if uid else ""
            k = f"<v4:primaryKeys><v4:partId>{pid}</v4:partId></v4:primaryKeys>" if pid else ""
            return f"<v4:partNumber>{u}{k}</v4:partNumber>"

        tag = token(6)
        cases = ({"licenseModel": license_model("licenseModel", uid="LM-" + tag), "partNumber": part("PN-" + tag)},
                 {"licenseModel": license_model("licenseModel", "Name-" + tag, "LM2-" + tag),
                  "partNumber": part("PN2-" + tag, "Part-" + tag)})
        for fields in cases:
            with self.subTest(fields=fields):
                eid, aid, body = self.create_with_fields(fields, expiration="2027-03-31")
                sent = sent_elements(body, "lineItems")[0]
                self.assert_fields(sent, self.found_item(eid, aid), ("partNumber", "licenseModel"))
                new_aid, item = self.upgrade_item("upgradeLicense", aid, self.cat.upgrade, fields)
                ubody = lifecycle_body("upgradeLicense", [{"items": [item]}])
                self.ok(ubody)
                self.assert_fields(sent_elements(ubody, "lineItem")[0], self.found_item(eid, new_aid),
                                   ("partNumber", "licenseModel"))
        # A renewal inherits the parent's license model whole, or takes the
        # one it gives whole: never one's name with the other's uniqueId.
        eid, parent, _ = self.create_with_fields(cases[1], expiration="2027-03-31")
        _, li, _ = self.renewal_of(eid, parent)
        self.assertEqual(canon(li.find(q("licenseModel"))), canon(etree.fromstring(
            envelope(cases[1]["licenseModel"])).find(f".//{q('licenseModel')}")))
        for given in (license_model("licenseModel", "Other-" + tag), license_model("licenseModel", uid="U3-" + tag)):
            with self.subTest(given=given):
                _, li, rbody = self.renewal_of(eid, parent, given)
                self.assert_fields(sent_elements(rbody, "renewParameters")[0], li, ("licenseModel",))

    def test_renewal_of_a_parent_without_them_keeps_the_ones_given(self):
        eid, parent, _ = self.create_with_fields(expiration="2027-03-31")
        extra = ("<v4:versionDateAttributes><v4:versionOption>DEFINE_NOW</v4:versionOption></v4:versionDateAttributes>"
                 + license_model("alternateLicenseModel1", "Alt") + all_policies()
                 + "<v4:FNPTimeZoneValue>Asia/Tokyo</v4:FNPTimeZoneValue>"
                 + attributes_xml("lineItemAttributes", [("K", {"integerValue": "1"})]))
        _, li, rbody = self.renewal_of(eid, parent, extra)
        self.assert_fields(sent_elements(rbody, "renewParameters")[0], li,
                           ("versionDateAttributes", "alternateLicenseModel1", "policyAttributes", "FNPTimeZoneValue",
                            "lineItemAttributes"))
        for f in ("licenseModel", "entitledProducts", "licenseModelAttributes"):
            self.assertIsNone(li.find(q(f)), f)
        # And none at all stays none.
        _, li, _ = self.renewal_of(eid, parent)
        self.assertEqual(psql("SELECT count(*) FROM line_items WHERE parent_id = (SELECT id FROM line_items WHERE "
                              "activation_id = :'v1') AND attributes IS NULL", parent), [["1"]])

    def test_attribute_criterion(self):
        tag = token(8)
        region, tier, note = "Region-" + tag, "Tier-" + tag, "Note-" + tag
        ents = {
            "e1": [(region, {"stringValue": "EMEA-North"}), (tier, {"stringValue": "gold"})],
            "e2": [(region, {"stringValue": "AMER"}), (note, {"stringValue": "100%_off\\now"})],
            "e3": [(region, {"stringValue": "emea"})],
            "e4": [(region, {"integerValue": "5"})],
            "e5": [],
        }
        ids = {}
        for key, attrs in ents.items():
            ent_attrs = attributes_xml("entitlementAttributes", attrs) if attrs else None
            # e5 has the value on a line item only: not an entitlement attribute.
            fields = ({"lineItemAttributes": attributes_xml("lineItemAttributes",
                                                            [(region, {"stringValue": "EMEA-North"})])}
                      if key == "e5" else None)
            ids[key] = self.create_with_fields(fields, ent_attrs)[0]
        names = {v: k for k, v in ids.items()}

        def search(criteria, extra=""):
            body = extra + attribute_query(criteria)
            r = self.ok(search_body(body))
            found = sorted(names.get(e.findtext(f"{q('simpleEntitlement')}/{q('entitlementId')}/{q('id')}"), "?")
                           for e in r.findall("f:entitlement"))
            c = self.ok(count_body(body))
            self.assertEqual(int(c.text("f:count")), len(found), c.body)
            return found

        self.assertEqual(search([(region, "EMEA-North", "EQUALS")]), ["e1"])
        self.assertEqual(search([(region, "EMEA", "STARTS_WITH")]), ["e1"])  # case matters
        self.assertEqual(search([(region, "M", "CONTAINS")]), ["e1", "e2"])
        self.assertEqual(search([(region, "North", "ENDS_WITH")]), ["e1"])
        self.assertEqual(search([(region, "emea", "EQUALS")]), ["e3"])
        self.assertEqual(search([(region, "5", "CONTAINS")]), [])  # an integerValue is no stringValue
        # nor an empty one (an empty value finds every stringValue, only).
        self.assertEqual(search([(region, "", "STARTS_WITH")]), ["e1", "e2", "e3"])
        self.assertEqual(search([(region, "", "EQUALS")]), [])
        self.assertEqual(search([(region, None, None)]), ["e1", "e2", "e3", "e4"])  # any value
        self.assertEqual(search([(tier, None, None)]), ["e1"])
        self.assertEqual(search([("Nothing-" + tag, None, None)]), [])
        # Several criteria: all must hold (each on an attribute of its own).
        self.assertEqual(search([(region, "M", "CONTAINS"), (tier, "gold", "EQUALS")]), ["e1"])
        self.assertEqual(search([(region, "M", "CONTAINS"), (note, "now", "ENDS_WITH")]), ["e2"])
        self.assertEqual(search([(region, "AMER", "EQUALS"), (tier, "gold", "EQUALS")]), [])
        # With another criterion.
        self.assertEqual(search([(region, "M", "CONTAINS")], simple_query("entitlementId", ids["e2"])), ["e2"])
        # LIKE metacharacters in the value match themselves only.
        self.assertEqual(search([(note, "%_", "CONTAINS")]), ["e2"])
        self.assertEqual(search([(note, "100%", "STARTS_WITH")]), ["e2"])
        self.assertEqual(search([(note, "\\now", "ENDS_WITH")]), ["e2"])
        self.assertEqual(search([(note, "\\", "CONTAINS")]), ["e2"])
        self.assertEqual(search([(note, "100%_off\\now", "EQUALS")]), ["e2"])
        self.assertEqual(search([(region, "%", "CONTAINS")]), [])
        self.assertEqual(search([(region, "_", "CONTAINS")]), [])
        self.assertEqual(search([(region, "E_EA", "STARTS_WITH")]), [])
        self.assertEqual(search([(region, "\\h", "ENDS_WITH")]), [])
        self.assertEqual(search([(region, "EMEA%", "EQUALS")]), [])
        self.assertEqual(search([(region, "' OR 1=1 --", "EQUALS")]), [])

    def test_attribute_criterion_refuses_what_it_cannot_use(self):
        for criteria, want in (
                ([("", "x", "EQUALS")], "INVALID_REQUEST: entitlementAttributes/attribute/attributeName is empty"),
                ([(" \t", None, None)], "INVALID_REQUEST: entitlementAttributes/attribute/attributeName is empty"),
                ([("\u00a0\u3000", None, None)],
                 "INVALID_REQUEST: entitlementAttributes/attribute/attributeName is empty"),
                ([(f"A{i}", "x", "EQUALS") for i in range(17)],
                 "INVALID_REQUEST: entitlementAttributes has 17 attribute criteria, at most 16 allowed")):
            with self.subTest(want=want):
                for body in (search_body(attribute_query(criteria)), count_body(attribute_query(criteria))):
                    r = self.ok(body, "FAILURE")
                    self.assertEqual(r.reason_text, want)
        # Sixteen are fine.
        sixteen = attribute_query([(f"A{i}-{token(4)}", "x" * 255, "CONTAINS") for i in range(16)])
        self.ok(count_body(sixteen))
        self.ok(search_body(simple_query("entitlementId", "x", "CONTAINS") + sixteen))

    def test_bad_attribute_names_fail_the_unit(self):
        good = "A-" + token(12)
        for attrs_tag, name, want in (
                ("lineItemAttributes", "", "lineItemAttributes/attributeName is empty"),
                ("licenseModelAttributes", " \n ", "licenseModelAttributes/attributeName is empty"),
                ("lineItemAttributes", "\u00a0\u2003\u3000", "lineItemAttributes/attributeName is empty"),
                ("entitlementAttributes", "", "entitlementAttributes/attributeName is empty"),
                ("lineItemAttributes", "n" * 256,
                 "lineItems[1]/lineItemAttributes/attribute[2]/attributeName is longer than 255 characters "
                 "(256 given)"),
                ("entitlementAttributes", "\u00e9" * 256,
                 "entitlementAttributes/attribute[2]/attributeName is longer than 255 characters (256 given)")):
            with self.subTest(tag=attrs_tag, name=name[:8]):
                eid, aid = "A-" + token(12), "A-" + token(12)
                attrs = attributes_xml(attrs_tag, [("ok", {"stringValue": "1"}), (name, {"stringValue": "v"})])
                fields = {attrs_tag: attrs} if attrs_tag != "entitlementAttributes" else {}
                item = line_item_full_xml("lineItems", aid, self.cat.base, 1, fields)
                ok_item = line_item_full_xml("lineItems", good + token(4), self.cat.base, 1)
                r = self.ok(create_full_body([
                    entitlement_full_xml(good + token(4), ok_item),
                    entitlement_full_xml(eid, item, None, attrs if attrs_tag == "entitlementAttributes" else None)]),
                    "PARTIAL_FAILURE")
                self.assertEqual(r.text("f:failedData/f:failedSimpleEntitlement/f:reason"),
                                 "INVALID_REQUEST: " + want)
                self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid), [["0"]])


class BadValuesTest(DaemonTestCase):
    """Typed values that are not of their type. Without the schema check in
    front (the default in production) they reach the converter: a date or
    an integer that is not one faults the request (a failed unit would echo
    it back, and the answer would not be valid)."""

    daemon_env = {"ENTITLEMENTD_VALIDATE_XML": "0"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def refused(self, body, want):
        r = self.client.raw(envelope(body))
        self.assertEqual(r.status, 500, r.body)
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertEqual(r.faultstring, want)

    def test_dates(self):
        for tag in ("lineItemAttributes", "licenseModelAttributes"):
            for bad in ("2027-02-30", "abc", "", "2027-1-1"):
                with self.subTest(tag=tag, bad=bad):
                    good, eid = "B-" + token(12), "B-" + token(12)
                    attrs = attributes_xml(tag, [("D", {"dateValue": bad})])
                    self.refused(create_full_body([
                        entitlement_full_xml(good, line_item_full_xml("lineItems", good + "-1", self.cat.base, 1)),
                        entitlement_full_xml(eid, line_item_full_xml("lineItems", eid + "-1", self.cat.base, 1,
                                                                     {tag: attrs}))]),
                        f"{tag}/dateValue: '{bad}' is not a valid date (YYYY-MM-DD)")
                    # Nothing of the request is done, the good unit neither.
                    self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id IN (:'v1', :'v2')",
                                          good, eid), [["0"]])
        eid = "B-" + token(12)
        self.refused(create_full_body([entitlement_full_xml(eid, "", None, attributes_xml(
            "entitlementAttributes", [("D", {"dateValue": "2027-13-01"})]))]),
            "entitlementAttributes/dateValue: '2027-13-01' is not a valid date (YYYY-MM-DD)")
        # Maintenance line items are not kept, but their values are read too.
        maint = ("<v4:maintenanceLineItems><v4:activationId><v4:id>M-" + token(8) + "</v4:id></v4:activationId>"
                 "<v4:maintenanceLineItemAttributes><v4:attribute><v4:attributeName>N</v4:attributeName>"
                 "<v4:integerValue></v4:integerValue></v4:attribute></v4:maintenanceLineItemAttributes>"
                 "</v4:maintenanceLineItems>")
        r = self.client.raw(envelope(create_full_body([entitlement_full_xml("B-" + token(12), "", None, None)])
                                     .replace("</v4:simpleEntitlement>", maint + "</v4:simpleEntitlement>")))
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertIn("maintenanceLineItemAttributes/integerValue", r.faultstring)
        # Upgrade and renew: refused, nothing moves.
        eid = "B-" + token(12)
        parent = eid + "-1"
        self.assertEqual(self.client.call(create_full_body([entitlement_full_xml(eid, line_item_full_xml(
            "lineItems", parent, self.cat.base, 5, {"expirationDate": "<v4:expirationDate>2027-01-31</v4:expirationDate>"}
        ))])).status_text, "SUCCESS")
        bad = attributes_xml("lineItemAttributes", [("D", {"dateValue": "2027-02-29"})])
        item = line_item_full_xml("lineItem", None, self.cat.upgrade, 1, {"lineItemAttributes": bad}, auto=True)
        self.refused(lifecycle_body("upgradeLicense", [{"items": [change_item_xml(parent, None, None, allow=True,
                                                                                  item=item)]}]),
                     "lineItemAttributes/dateValue: '2027-02-29' is not a valid date (YYYY-MM-DD)")
        self.refused(renew_body([{"items": [renew_item_xml(parent, auto=True, term=(1, "YEARS"), extra=bad)]}]),
                     "lineItemAttributes/dateValue: '2027-02-29' is not a valid date (YYYY-MM-DD)")
        self.assertEqual(psql("SELECT count(*), sum(number_of_copies) FROM line_items li JOIN entitlements e ON "
                              "e.id = li.entitlement_id WHERE e.entitlement_id = :'v1'", eid), [["1", "5"]])

    def test_integers_fault_the_request(self):
        for fields, want in (
                ({"lineItemAttributes": attributes_xml("lineItemAttributes", [("I", {"integerValue": "many"})])},
                 "lineItemAttributes/integerValue: 'many' is not an integer"),
                ({"lineItemAttributes": attributes_xml("lineItemAttributes",
                                                       [("I", {"integerValue": "99999999999999999999"})])},
                 "lineItemAttributes/integerValue: '99999999999999999999' is not an integer in range"),
                ({"policyAttributes": "<v4:policyAttributes>" + policy("rehostsPolicy", "x", 1, "DAYS")
                  + "</v4:policyAttributes>"}, "policyAttributes/rehostsPolicy/allowedCount: 'x' is not an integer"),
                ({"entitledProducts": "<v4:entitledProducts><v4:entitledProduct><v4:quantity>1.5</v4:quantity>"
                  "</v4:entitledProduct></v4:entitledProducts>"}, "entitledProducts/quantity: '1.5' is not an integer")):
            with self.subTest(want=want):
                e1, e2 = "B-" + token(12), "B-" + token(12)
                r = self.client.raw(envelope(create_full_body([
                    entitlement_full_xml(e1, line_item_full_xml("lineItems", e1 + "-1", self.cat.base, 1)),
                    entitlement_full_xml(e2, line_item_full_xml("lineItems", e2 + "-1", self.cat.base, 1, fields))])))
                self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
                self.assertIn(want, r.faultstring)
                self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", e1), [["0"]])

    def test_the_schema_check_refuses_them_first(self):
        strict = Daemon(ENTITLEMENTD_VALIDATE_XML=1).start()
        try:
            eid = "B-" + token(12)
            attrs = attributes_xml("lineItemAttributes", [("D", {"dateValue": "abc"})])
            r = Client(strict, self.user).raw(envelope(create_full_body([entitlement_full_xml(
                eid, line_item_full_xml("lineItems", eid + "-1", self.cat.base, 1, {"lineItemAttributes": attrs}))])))
        finally:
            self.assertEqual(strict.stop(), 0)
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)


class PreparedSearchTest(DaemonTestCase):
    """A connection prepares the searches it runs (the first 32 texts it
    sees) and runs them prepared from then on. With one connection, more
    shapes of search than it keeps, each twice, and the same again after
    the connection was lost (its statements with it), every answer is the
    right one."""

    daemon_env = {"ENTITLEMENTD_DB_POOL_SIZE": "1"}

    def test_more_shapes_than_kept_and_a_lost_connection(self):
        self.cat = Catalog()
        eid, _, _ = AttributesTest.create_with_fields(
            self, None, attributes_xml("entitlementAttributes", [("Region", {"stringValue": "EMEA"})]))

        state = simple_query("state", "DEPLOYED")

        def found(k, value, with_state):
            # k criteria on the same attribute, with or without a value and
            # a state: 64 texts of SQL.
            r = self.ok(search_body(simple_query("entitlementId", eid) + (state if with_state else "")
                                    + attribute_query([("Region", value, "EQUALS")] * k)))
            return len(r.findall("f:entitlement"))

        for lost in (False, True):
            if lost:
                psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = 'entitlementd' AND pid <> pg_backend_pid()")
            for _ in range(2):
                for k in range(1, 17):
                    for with_state in (False, True):
                        self.assertEqual(found(k, "EMEA", with_state), 1, (k, with_state))
                        self.assertEqual(found(k, "APAC", with_state), 0, (k, with_state))
                        self.assertEqual(found(k, None, with_state), 1, (k, with_state))


if __name__ == "__main__":
    unittest.main()
