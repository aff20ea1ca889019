"""Field limits through the real daemon and PostgreSQL: every free-text
field of a request has a maximum (core/model.h, README "Limits"), counted
in characters, not bytes. A value exactly at its limit is kept whole; one
character more fails its own unit with INVALID_REQUEST naming the field,
the limit and the length, nothing of that unit is written, and the other
units of the request still succeed. A search value longer than the field it
searches fails the search. REST: a 400 naming the field's path, nothing
written."""
import unittest
from xml.sax.saxutils import escape

from builders import (attribute_query, attributes_xml, change_item_xml, count_body, create_body, create_full_body,
                      entitlement_full_xml, lifecycle_body, line_item_full_xml, renew_body, renew_item_xml,
                      search_body, simple_query)
from catalog import Catalog
from harness import NS, PATH, Client, DaemonTestCase, envelope, psql, token
from rest import DEVICE, STATUSLOG, Publisher, RestClient, admin_user, api_token, bearer, status_body


def text(n):
    """n characters of 1, 2, 3 and 4 UTF-8 bytes in turn: a limit counted
    in bytes would refuse them long before n."""
    return ("x\u00e9\u20ac\U0001D11E" * (n // 4 + 1))[:n]


def over(path, limit, given=None):
    return f"INVALID_REQUEST: {path} is longer than {limit} characters ({given or limit + 1} given)"


def el(tag, value):
    return f"<v4:{tag}>{escape(value)}</v4:{tag}>"


def keyed(tag, key, value):
    """<tag><primaryKeys><key>value</key></primaryKeys></tag>."""
    return f"<v4:{tag}><v4:primaryKeys>{el(key, value)}</v4:primaryKeys></v4:{tag}>"


# The scalar elements of createSimpleEntitlementDataType before lineItems,
# in schema order.
ENT_ORDER = ("description", "soldTo", "shipToEmail", "shipToAddress", "emailTemplateVariation")


def entitlement_xml(eid, items_xml, fields=None, partners="", attributes=""):
    fields = fields or {}
    scalars = "".join(el(k, fields[k]) for k in ENT_ORDER if k in fields)
    return (f"<v4:simpleEntitlement><v4:entitlementId><v4:id>{escape(eid)}</v4:id></v4:entitlementId>"
            f"{scalars}{items_xml}<v4:autoDeploy>true</v4:autoDeploy>{partners}{attributes}"
            f"</v4:simpleEntitlement>")


def partner_xml(tier="Distributor", account="ACCT-1", first="Ada"):
    return ("<v4:channelPartners><v4:channelPartner>" + el("tierName", tier) +
            "<v4:accountUnit><v4:primaryKeys>" + el("id", account) + "</v4:primaryKeys></v4:accountUnit>"
            "<v4:contact><v4:primaryKeys>" + el("firstName", first) + el("lastName", "Lovelace") +
            el("emailAddress", "ada@example.com") + "</v4:primaryKeys></v4:contact>"
            "</v4:channelPartner></v4:channelPartners>")


class SoapLimitsTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def rows(self, eid):
        """What the database holds of entitlement eid: its row, its line
        items and its audit rows."""
        return (psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", eid)[0][0],
                psql("SELECT count(*) FROM line_items li JOIN entitlements e ON e.id = li.entitlement_id "
                     "WHERE e.entitlement_id = :'v1'", eid)[0][0],
                psql("SELECT count(*) FROM audit_log WHERE entitlement_id = :'v1'", eid)[0][0])

    def create_pair(self, good_xml, bad_xml):
        """Creates two simpleEntitlements, the first within the limits and
        the second over one: PARTIAL_FAILURE, with the reason of the
        second."""
        r = self.ok(create_full_body([good_xml, bad_xml]), "PARTIAL_FAILURE")
        self.assertEqual(len(r.findall("f:failedData/f:failedSimpleEntitlement")), 1, r.body)
        self.assertEqual(r.text("f:responseData/f:createdSimpleEntitlement/f:recordRefNo"), "1", r.body)
        return r.text("f:failedData/f:failedSimpleEntitlement/f:reason")

    def test_sold_to_of_a_million_characters_fails_its_unit_only(self):
        good, bad = "L-" + token(12), "L-" + token(12)
        ok = entitlement_xml(good, line_item_full_xml("lineItems", good + "-1", self.cat.base, 1),
                             {"soldTo": "ACME"})
        huge = entitlement_xml(bad, line_item_full_xml("lineItems", bad + "-1", self.cat.base, 1),
                               {"soldTo": "s" * 1000000})
        reason = self.create_pair(ok, huge)
        self.assertEqual(reason, over("soldTo", 255, 1000000))
        self.assertEqual(self.rows(bad), ("0", "0", "0"))
        self.assertEqual(self.rows(good), ("1", "1", "1"))
        self.assertEqual(psql("SELECT sold_to FROM entitlements WHERE entitlement_id = :'v1'", good), [["ACME"]])
        # No entitlement anywhere holds a soldTo that long.
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE char_length(sold_to) > 255"), [["0"]])
        # Nor can one be searched for: the value could match nothing.
        for body in (search_body(simple_query("soldTo", "s" * 1000000, "CONTAINS")),
                     count_body(simple_query("soldTo", "s" * 1000000, "CONTAINS"))):
            r = self.ok(body, "FAILURE")
            self.assertEqual(r.reason_text, over("soldTo/value", 255, 1000000))

    def test_entitlement_fields_at_and_over_their_limits(self):
        for field, column, limit in (("description", "description", 2000), ("soldTo", "sold_to", 255),
                                     ("shipToEmail", "ship_to_email", 255),
                                     ("shipToAddress", "ship_to_address", 1000),
                                     ("emailTemplateVariation", "email_template_variation", 255)):
            with self.subTest(field=field):
                good, bad = "L-" + token(12), "L-" + token(12)
                reason = self.create_pair(
                    entitlement_xml(good, line_item_full_xml("lineItems", good + "-1", self.cat.base, 1),
                                    {field: text(limit)}),
                    entitlement_xml(bad, line_item_full_xml("lineItems", bad + "-1", self.cat.base, 1),
                                    {field: text(limit + 1)}))
                self.assertEqual(reason, over(field, limit))
                self.assertEqual(self.rows(bad), ("0", "0", "0"))
                self.assertEqual(psql(f"SELECT {column} FROM entitlements WHERE entitlement_id = :'v1'", good),
                                 [[text(limit)]])

    def test_line_item_fields_at_and_over_their_limits(self):
        cases = (
            ("description", lambda v: {"description": el("description", v)}, 2000,
             "li.description"),
            ("partNumber/primaryKeys/partId", lambda v: {"partNumber": keyed("partNumber", "partId", v)}, 255,
             "li.part_number"),
            ("licenseModel/primaryKeys/name", lambda v: {"licenseModel": keyed("licenseModel", "name", v)}, 255,
             "li.license_model"),
            ("orderId", lambda v: {"orderId": el("orderId", v)}, 255, "li.order_id"),
            ("orderLineNumber", lambda v: {"orderLineNumber": el("orderLineNumber", v)}, 255,
             "li.order_line_number"),
            ("FNPTimeZoneValue", lambda v: {"FNPTimeZoneValue": el("FNPTimeZoneValue", v)}, 255,
             "li.attributes->>'FNPTimeZoneValue'"),
            ("alternateLicenseModel1/primaryKeys/name",
             lambda v: {"alternateLicenseModel1": keyed("alternateLicenseModel1", "name", v)}, 255,
             "li.attributes->'alternateLicenseModel1'->'primaryKeys'->>'name'"),
            ("entitledProducts/entitledProduct[1]/product/primaryKeys/name",
             lambda v: {"entitledProducts": "<v4:entitledProducts><v4:entitledProduct><v4:product><v4:primaryKeys>"
                                            f"{el('name', v)}<v4:version>1</v4:version></v4:primaryKeys>"
                                            "</v4:product><v4:quantity>1</v4:quantity></v4:entitledProduct>"
                                            "</v4:entitledProducts>"}, 255,
             "li.attributes->'entitledProducts'->0->'product'->'primaryKeys'->>'name'"),
            ("lineItemAttributes/attribute[2]/stringValue",
             lambda v: {"lineItemAttributes": attributes_xml("lineItemAttributes", [
                 ("A", {"stringValue": "a"}), ("B", {"stringValue": v})])}, 4000,
             "li.attributes->'lineItemAttributes'->1->>'stringValue'"),
            ("licenseModelAttributes/attribute[1]/arrayValue[2]",
             lambda v: {"licenseModelAttributes": attributes_xml("licenseModelAttributes", [
                 ("A", {"arrayValue": ["a", v]})])}, 4000,
             "li.attributes->'licenseModelAttributes'->0->'arrayValue'->>1"),
            ("lineItemAttributes/attribute[1]/attributeName",
             lambda v: {"lineItemAttributes": attributes_xml("lineItemAttributes", [(v, {"stringValue": "a"})])},
             255, "li.attributes->'lineItemAttributes'->0->>'attributeName'"),
        )
        for path, fields, limit, column in cases:
            with self.subTest(field=path):
                good, bad = "L-" + token(12), "L-" + token(12)

                def unit(eid, value):
                    # The value is in the second line item.
                    return entitlement_xml(eid, line_item_full_xml("lineItems", eid + "-1", self.cat.base, 1) +
                                           line_item_full_xml("lineItems", eid + "-2", self.cat.base, 1,
                                                              fields(value)))

                reason = self.create_pair(unit(good, text(limit)), unit(bad, text(limit + 1)))
                self.assertEqual(reason, over("lineItems[2]/" + path, limit))
                self.assertEqual(self.rows(bad), ("0", "0", "0"))
                self.assertEqual(psql(f"SELECT {column} FROM line_items li WHERE li.activation_id = :'v1'",
                                      good + "-2"), [[text(limit)]])

    def test_entitlement_attributes_and_channel_partners(self):
        cases = (
            ("entitlementAttributes/attribute[1]/stringValue", 4000,
             lambda v: {"attributes": attributes_xml("entitlementAttributes", [("A", {"stringValue": v})])},
             "attributes->'entitlementAttributes'->0->>'stringValue'"),
            ("entitlementAttributes/attribute[1]/arrayValue[1]", 4000,
             lambda v: {"attributes": attributes_xml("entitlementAttributes", [("A", {"arrayValue": [v]})])},
             "attributes->'entitlementAttributes'->0->'arrayValue'->>0"),
            ("channelPartners/channelPartner[1]/tierName", 255, lambda v: {"partners": partner_xml(tier=v)},
             "attributes->'channelPartners'->0->>'tierName'"),
            ("channelPartners/channelPartner[1]/accountUnit/primaryKeys/id", 255,
             lambda v: {"partners": partner_xml(account=v)},
             "attributes->'channelPartners'->0->'accountUnit'->'primaryKeys'->>'id'"),
            ("channelPartners/channelPartner[1]/contact/primaryKeys/firstName", 255,
             lambda v: {"partners": partner_xml(first=v)},
             "attributes->'channelPartners'->0->'contact'->'primaryKeys'->>'firstName'"),
        )
        for path, limit, parts, column in cases:
            with self.subTest(field=path):
                good, bad = "L-" + token(12), "L-" + token(12)

                def unit(eid, value):
                    return entitlement_xml(eid, line_item_full_xml("lineItems", eid + "-1", self.cat.base, 1),
                                           **parts(value))

                reason = self.create_pair(unit(good, text(limit)), unit(bad, text(limit + 1)))
                self.assertEqual(reason, over(path, limit))
                self.assertEqual(self.rows(bad), ("0", "0", "0"))
                self.assertEqual(psql(f"SELECT {column} FROM entitlements WHERE entitlement_id = :'v1'", good),
                                 [[text(limit)]])

    def test_array_values_are_bounded_in_number(self):
        good, bad = "L-" + token(12), "L-" + token(12)

        def unit(eid, n):
            return entitlement_xml(eid, line_item_full_xml("lineItems", eid + "-1", self.cat.base, 1),
                                   attributes=attributes_xml("entitlementAttributes", [
                                       ("LIST", {"arrayValue": [str(i) for i in range(n)]})]))

        reason = self.create_pair(unit(good, 100), unit(bad, 101))
        self.assertEqual(reason, "INVALID_REQUEST: entitlementAttributes/attribute[1]/arrayValue is repeated "
                                 "101 times, at most 100 allowed")
        self.assertEqual(self.rows(bad), ("0", "0", "0"))
        self.assertEqual(psql("SELECT jsonb_array_length(attributes->'entitlementAttributes'->0->'arrayValue') "
                              "FROM entitlements WHERE entitlement_id = :'v1'", good), [["100"]])

    def test_create_or_update_is_held_to_the_same_limits(self):
        eid = "L-" + token(12)
        items = line_item_full_xml("lineItems", eid + "-1", self.cat.base, 1)
        self.ok(create_full_body([entitlement_xml(eid, items, {"soldTo": "ACME"})]))
        r = self.ok(create_full_body([entitlement_xml(eid, "", {"soldTo": text(256)})], "CREATE_OR_UPDATE"),
                    "FAILURE")
        self.assertEqual(r.text("f:failedData/f:failedSimpleEntitlement/f:reason"), over("soldTo", 255))
        self.assertEqual(psql("SELECT sold_to FROM entitlements WHERE entitlement_id = :'v1'", eid), [["ACME"]])
        self.ok(create_full_body([entitlement_xml(eid, "", {"soldTo": text(255)})], "CREATE_OR_UPDATE"))
        self.assertEqual(psql("SELECT sold_to FROM entitlements WHERE entitlement_id = :'v1'", eid), [[text(255)]])

    def parent(self):
        """A deployed line item of 10 copies; returns (entitlementId, activationId)."""
        eid = "L-" + token(12)
        self.ok(create_full_body([entitlement_xml(eid, line_item_full_xml("lineItems", eid + "-1", self.cat.base,
                                                                          10))]))
        return eid, eid + "-1"

    def parent_state(self, aid):
        return psql("SELECT state, number_of_copies FROM line_items WHERE activation_id = :'v1'", aid)

    def new_items(self, aid):
        return psql("SELECT count(*) FROM line_items WHERE parent_id = (SELECT id FROM line_items "
                    "WHERE activation_id = :'v1')", aid)[0][0]

    def test_upgrade_and_upsell_units_over_a_limit_change_nothing(self):
        for op, product in (("upgradeLicense", self.cat.upgrade), ("upsellLicense", self.cat.upsell)):
            with self.subTest(op=op):
                (_, good), (_, other), (_, bad) = self.parent(), self.parent(), self.parent()
                audit = psql("SELECT count(*) FROM audit_log")[0][0]
                item = line_item_full_xml("lineItem", None, product, 3,
                                          {"orderId": el("orderId", text(255)),
                                           "description": el("description", text(2000))}, auto=True)
                long_item = line_item_full_xml("lineItem", None, product, 3,
                                               {"orderId": el("orderId", text(255)),
                                                "description": el("description", text(2001))}, auto=True)
                r = self.ok(lifecycle_body(op, [{"items": [change_item_xml(good, None, None, item=item)]},
                                                {"items": [change_item_xml(other, None, None, item=item),
                                                           change_item_xml(bad, None, None, item=long_item)]}]),
                            "PARTIAL_FAILURE")
                self.assertEqual(r.text("f:failedData/f:failedEntitlement/f:reason"),
                                 over("lineItemData[2]/lineItem/description", 2000))
                self.assertEqual(r.text("f:responseData/f:entitlementData/f:entitlementRecordRefNo"), "1")
                # The failed unit: neither of its line items is applied.
                for aid in (other, bad):
                    self.assertEqual(self.parent_state(aid), [["DEPLOYED", "10"]])
                    self.assertEqual(self.new_items(aid), "0")
                self.assertEqual(self.parent_state(good), [["OBSOLETE", "7"]])
                self.assertEqual(self.new_items(good), "1")
                self.assertEqual(psql("SELECT char_length(order_id), char_length(description) FROM line_items "
                                      "WHERE parent_id = (SELECT id FROM line_items WHERE activation_id = :'v1')",
                                      good), [["255", "2000"]])
                self.assertEqual(int(psql("SELECT count(*) FROM audit_log")[0][0]), int(audit) + 1)

    def test_renew_units_over_a_limit_change_nothing(self):
        _, aid = self.parent()
        r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, term=(1, "YEARS"),
                                                          extra=el("description", text(2001)))]}]), "FAILURE")
        self.assertEqual(r.text("f:failedData/f:failedEntitlement/f:reason"),
                         over("renewLineItemData[1]/renewParameters/description", 2000))
        self.assertEqual(self.parent_state(aid), [["DEPLOYED", "10"]])
        self.assertEqual(self.new_items(aid), "0")
        attrs = attributes_xml("lineItemAttributes", [("A", {"stringValue": text(4001)})])
        r = self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, term=(1, "YEARS"), extra=attrs)]}]),
                    "FAILURE")
        self.assertEqual(r.text("f:failedData/f:failedEntitlement/f:reason"),
                         over("renewLineItemData[1]/renewParameters/lineItemAttributes/attribute[1]/stringValue",
                              4000))
        self.assertEqual(self.new_items(aid), "0")
        self.ok(renew_body([{"items": [renew_item_xml(aid, auto=True, term=(1, "YEARS"),
                                                      extra=el("description", text(2000)))]}]))
        self.assertEqual(psql("SELECT description FROM line_items WHERE parent_id = (SELECT id FROM line_items "
                              "WHERE activation_id = :'v1')", aid), [[text(2000)]])

    def test_search_values_longer_than_their_field(self):
        eid, ref = "L-" + token(12), "REF-" + token(8)
        sold_to = token(8) + text(247)  # 255 characters, about 600 bytes
        self.ok(create_full_body([entitlement_xml(eid, line_item_full_xml("lineItems", eid + "-1", self.cat.base, 1),
                                                  {"soldTo": sold_to},
                                                  attributes=attributes_xml("entitlementAttributes", [
                                                      (ref, {"stringValue": text(4000)})]))]))
        # At the limit: found.
        r = self.ok(search_body(simple_query("soldTo", sold_to)))
        self.assertEqual([e.text for e in r.findall("f:entitlement/f:simpleEntitlement/f:entitlementId/f:id")],
                         [eid])
        r = self.ok(count_body(attribute_query([(ref, text(4000), "EQUALS")])))
        self.assertEqual(r.text("f:count"), "1")
        # One character more: the search fails, whatever else it asks.
        for criteria, reason in (
                (simple_query("soldTo", sold_to + "x"), over("soldTo/value", 255)),
                (simple_query("entitlementId", eid, "CONTAINS") + simple_query("description", text(2001)),
                 over("description/value", 2000)),
                (simple_query("shipToAddress", text(1001), "STARTS_WITH"), over("shipToAddress/value", 1000)),
                (simple_query("productName", text(256), "CONTAINS"), over("productName/value", 255)),
                (attribute_query([(ref, text(4001), "EQUALS")]),
                 over("entitlementAttributes/attribute[1]/stringValue/value", 4000)),
                (attribute_query([(ref, None, None), (text(256), "x", "EQUALS")]),
                 over("entitlementAttributes/attribute[2]/attributeName", 255))):
            with self.subTest(reason=reason):
                for body in (search_body(criteria), count_body(criteria)):
                    r = self.ok(body, "FAILURE")
                    self.assertEqual(r.reason_text, reason)
                    self.assertIsNone(r.find("f:entitlement"))

    def test_older_clients_read_their_own_element_names(self):
        v1 = "urn:v1.webservices.operations.flexnet.com"
        c = Client(self.daemon, self.user, path=PATH.replace("/v4/", "/v1/"))
        self.addCleanup(c.close)
        r = c.raw(envelope("<v4:getEntitlementCountRequest><v4:queryParams><v4:organizationUnitName>"
                           f"<v4:value>{text(256)}</v4:value><v4:searchType>EQUALS</v4:searchType>"
                           "</v4:organizationUnitName></v4:queryParams></v4:getEntitlementCountRequest>", ns=v1))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.payload.findtext(f"{{{v1}}}statusInfo/{{{v1}}}reason"),
                         over("organizationUnitName/value", 255))
        eid = "L-" + token(12)
        r = c.raw(envelope(f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId><v4:id>{eid}"
                           "</v4:id></v4:entitlementId><v4:channelPartners><v4:channelPartner>"
                           "<v4:tierName>T</v4:tierName><v4:organizationUnit><v4:primaryKeys>"
                           f"<v4:name>{text(256)}</v4:name></v4:primaryKeys></v4:organizationUnit>"
                           "</v4:channelPartner></v4:channelPartners></v4:simpleEntitlement>"
                           "</v4:createSimpleEntitlementRequest>", ns=v1))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.payload.findtext(f"{{{v1}}}failedData/{{{v1}}}failedSimpleEntitlement/{{{v1}}}reason"),
                         over("channelPartners/channelPartner[1]/organizationUnit/primaryKeys/name", 255))
        self.assertEqual(self.rows(eid), ("0", "0", "0"))


class PageLimitTest(DaemonTestCase):
    daemon_env = {"ENTITLEMENTD_MAX_PAGE_MB": "2"}

    def test_a_page_over_the_cap_fails_before_it_is_read(self):
        # Four entitlements of about 440 KB of text each (200 line items
        # with a description of 2,000 characters), with the cost of their
        # rows about 700 KB: two fit in 2 MiB, four do not. The page is
        # refused as its rows arrive, not after.
        cat = Catalog()
        tag = "PG" + token(8)
        for k in range(4):
            items = [(f"{tag}-{k}-{i}", cat.base, 1, {"description": "d" * 2000}) for i in range(200)]
            self.ok(create_body([{"eid": f"{tag}-{k}", "items": items}]))
        crit = simple_query("entitlementId", tag, "STARTS_WITH")
        r = self.ok(search_body(crit, batch=10), "FAILURE")
        self.assertEqual(r.text("f:statusInfo/f:reason"), "RESPONSE_TOO_LARGE: the entitlements of this page take "
                                                          "more than 2 MiB; ask for a smaller batchSize")
        self.assertEqual(r.findall("f:entitlement"), [])
        r = self.ok(search_body(crit, batch=2))
        self.assertEqual([len(e.findall("f:simpleEntitlement/f:lineItems", {"f": NS}))
                          for e in r.findall("f:entitlement")], [200, 200])
        r = self.ok(search_body(crit, batch=2, page=2))
        self.assertEqual(len(r.findall("f:entitlement")), 2)
        # The connection serves the next query as usual.
        r = self.ok(search_body(simple_query("entitlementId", f"{tag}-1"), batch=10))
        self.assertEqual(len(r.findall("f:entitlement")), 1)


class RestLimitsTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()
        cls.user_token = api_token(user="limits-" + token(6))[1]
        cls.tenant = "tenant-" + token(8)
        cls.tenant_token = api_token(tenant=cls.tenant)[1]
        cls.pub = Publisher(cls.daemon, admin_user())

    def setUp(self):
        super().setUp()
        self.rest = RestClient(self.daemon)
        self.addCleanup(self.rest.close)

    def count(self, sql, *params):
        return int(psql(sql, *params)[0][0])

    def test_subscription_name_and_webhook_url(self):
        user = RestClient(self.daemon, bearer(self.user_token))
        self.addCleanup(user.close)
        secret = "whsec_" + "QUFB" * 8  # base64 of 24 bytes

        def body(name, url):
            return {"name": name, "products": [{"name": self.cat.base[0], "version": self.cat.base[1]}],
                    "webhook": {"url": url, "secret": secret}}

        url = "https://hooks.example.com/"
        long_url = url + "a" * (2048 - len(url))
        r = user.post("/subscriptions/cloud", body(text(255), long_url))
        self.assertEqual(r.status, 201, r)
        ref = r.json["subscriptionRef"]
        self.assertEqual(psql("SELECT name, webhook_url FROM subscriptions WHERE ref = :'v1'", ref),
                         [[text(255), long_url]])
        before = self.count("SELECT count(*) FROM subscriptions")
        for b, message in ((body(text(256), url), "name: longer than 255 characters (256 given)"),
                           (body("n", long_url + "a"), "webhook.url: longer than 2048 characters (2049 given)")):
            with self.subTest(message=message):
                r = user.post("/subscriptions/cloud", b)
                self.assertEqual((r.status, r.json), (400, {"message": message, "status": 400}))
        self.assertEqual(self.count("SELECT count(*) FROM subscriptions"), before)

    def test_device_status_texts(self):
        dev = RestClient(self.daemon, bearer(self.tenant_token))
        self.addCleanup(dev.close)

        def report(device, message, value):
            return {"header": {"protocol": {"name": "Status", "version": "4.0.0", "type": "REQUEST"},
                               "tenantId": self.tenant, "deviceId": device, "sourceId": "ENDPOINT",
                               "sessionId": "s-" + token(6)},
                    "body": {"nodes": [{"id": "ECU1", "status": {"message": message, "timestamp": 1, "code": "0"},
                                        "properties": [{"key": "k", "value": value}]}]}}

        device = "VIN-" + token(8)
        r = dev.post(DEVICE, report(device, text(1024), text(1024)))
        self.assertEqual(r.status, 200, r)
        reports = self.count("SELECT count(*) FROM device_reports WHERE tenant = :'v1' AND device_id = :'v2'",
                             self.tenant, device)
        for rep, message in (
                (report(device, text(1025), "v"), "nodes[0].status.message: longer than 1024 characters (1025 given)"),
                (report(device, "m", text(1025)),
                 "nodes[0].properties[0].value: longer than 1024 characters (1025 given)"),
                (report(text(256), "m", "v"), "deviceId: longer than 255 characters (256 given)")):
            with self.subTest(message=message):
                r = dev.post(DEVICE, rep)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["status"]["message"], message)
        self.assertEqual(self.count("SELECT count(*) FROM device_reports WHERE tenant = :'v1' AND device_id = :'v2'",
                                    self.tenant, device), reports)

    def test_status_log_texts(self):
        auth = self.pub.auth()
        r = self.rest.post(STATUSLOG, status_body(self.pub.name, statusReason=text(100), updateName=text(255)),
                           headers={"Authorization": auth}, auth=False)
        self.assertEqual(r.status, 202, r)
        before = self.count("SELECT count(*) FROM status_logs WHERE publisher = :'v1'", self.pub.name)
        for over_, message in (({"statusReason": text(101)}, "statusReason: longer than 100 characters (101 given)"),
                               ({"updateName": text(256)}, "updateName: longer than 255 characters (256 given)"),
                               ({"platform": text(256)}, "platform: longer than 255 characters (256 given)")):
            with self.subTest(message=message):
                r = self.rest.post(STATUSLOG, status_body(self.pub.name, **over_), headers={"Authorization": auth},
                                   auth=False)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["message"], message)
        self.assertEqual(self.count("SELECT count(*) FROM status_logs WHERE publisher = :'v1'", self.pub.name),
                         before)


if __name__ == "__main__":
    unittest.main()
