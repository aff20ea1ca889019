"""Every version's clients get their own version's messages: for v1..v4, a
strict python3-zeep client loaded from that version's served ?wsdl runs the
nine operations (create with channel partners and attributes, query,
count, upgrade with a failing unit, upsell, renew, state changes, delete);
every answer is also validated against that version's schema (taken from
the served WSDL) with lxml. Data written by one version's client is read
by another's. And each served WSDL's element trees differ from v4's
exactly as versions_expected.txt says."""
import os
import unittest

import requests
import zeep
from lxml import etree
from requests.auth import HTTPBasicAuth
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport

from catalog import Catalog
from harness import PATH, SOAP_ENV, Client, DaemonTestCase, envelope, psql, token

XSD = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"


def served_schema(daemon, v):
    """The schema element of version v's served WSDL."""
    r = requests.get(f"http://127.0.0.1:{daemon.port}{PATH.replace('/v4/', f'/v{v}/')}?wsdl", timeout=30)
    r.raise_for_status()
    doc = etree.fromstring(r.content)
    return doc.find(f"{{{WSDL_NS}}}types/{{{XSD}}}schema")


def tree_differences(daemon):
    """Lines 'vN type -name' / 'vN type +name': what each version's served
    schema declares otherwise than v4's, complex type by complex type."""
    def sequences(schema):
        out = {}
        for ct in schema.iter(f"{{{XSD}}}complexType"):
            out[ct.get("name")] = [e.get("name") for e in ct.iter(f"{{{XSD}}}element")]
        return out
    v4 = sequences(served_schema(daemon, 4))
    lines = []
    for v in (1, 2, 3):
        vn = sequences(served_schema(daemon, v))
        for name in sorted(set(v4) | set(vn)):
            a, b = v4.get(name, []), vn.get(name, [])
            lines += [f"v{v} {name} -{e}" for e in a if e not in b]
            lines += [f"v{v} {name} +{e}" for e in b if e not in a]
    return lines


class VersionsTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()
        cls.schemas = {v: etree.XMLSchema(served_schema(cls.daemon, v)) for v in (1, 2, 3, 4)}

    def zeep_client(self, v):
        session = requests.Session()
        session.auth = HTTPBasicAuth(self.user.name, self.user.password)
        history = HistoryPlugin()
        z = zeep.Client(f"http://127.0.0.1:{self.daemon.port}{PATH.replace('/v4/', f'/v{v}/')}?wsdl",
                        transport=Transport(session=session, timeout=30), plugins=[history],
                        settings=zeep.Settings(strict=True))
        z.history = history
        return z

    def check_last(self, z, v):
        """The last answer is valid against version v's schema."""
        env = z.history.last_received["envelope"]
        payload = env.find(f"{{{SOAP_ENV}}}Body")[0]
        self.schemas[v].assertValid(payload)
        ns = f"urn:v{v}.webservices.operations.flexnet.com"
        self.assertEqual(etree.QName(payload).namespace, ns)

    def partner(self, v, account, tier="Distributor"):
        key = {"primaryKeys": {"id" if v == 4 else "name": account}}
        return {"tierName": tier, ("organizationUnit" if v <= 2 else "accountUnit"): key, "currentOwner": True}

    def test_each_version_runs_the_nine_operations(self):
        for v in (1, 2, 3, 4):
            with self.subTest(version=v):
                self.nine_operations(v)

    def nine_operations(self, v):
        z = self.zeep_client(v)
        t = token(8)
        eid, aid = f"V{v}-{t}", f"V{v}L-{t}"
        account = f"ACC-{v}-{t}"
        r = z.service.createSimpleEntitlement(simpleEntitlement=[{
            "entitlementId": {"id": eid}, "soldTo": "Versions Corp",
            "lineItems": [{"activationId": {"id": aid},
                           "product": {"primaryKeys": {"name": self.cat.base[0], "version": self.cat.base[1]}},
                           "numberOfCopies": 10}],
            "autoDeploy": True,
            "channelPartners": {"channelPartner": [self.partner(v, account)]},
            "entitlementAttributes": {"attribute": [{"attributeName": "Region", "stringValue": "EMEA"}]}}])
        self.check_last(z, v)
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        r = z.service.getEntitlementsQuery(entitlementSearchCriteria={
            "entitlementId": {"value": eid, "searchType": "EQUALS"}}, batchSize=10)
        self.check_last(z, v)
        ent = r.entitlement[0].simpleEntitlement
        cp = ent.channelPartners.channelPartner[0]
        unit = cp.organizationUnit if v <= 2 else cp.accountUnit
        self.assertEqual(unit.primaryKeys.id if v == 4 else unit.primaryKeys.name, account)
        # The channel partner criterion, under the version's name.
        crit = {("organizationUnitName" if v <= 2 else "accountUnitName"): {"value": account, "searchType": "EQUALS"}}
        r = z.service.getEntitlementCount(queryParams=crit)
        self.check_last(z, v)
        self.assertEqual((r.statusInfo.status, r.count), ("SUCCESS", 1))
        name = "organizationUnitName" if v <= 2 else "accountUnitName"
        for crit, found in (({"value": account[:-2], "searchType": "STARTS_WITH", "partnerTier": "Distributor"}, 1),
                            ({"value": account, "searchType": "EQUALS", "partnerTier": "Reseller"}, 0),
                            ({"value": account[1:], "searchType": "EQUALS"}, 0)):
            r = z.service.getEntitlementsQuery(entitlementSearchCriteria={name: crit}, batchSize=10)
            self.check_last(z, v)
            self.assertEqual(len(r.entitlement or []), found, crit)

        def unit_of(parent, product, count=1):
            return {"lineItemData": [{"parentLineItemIdentifier": {"primaryKeys": {"activationId": parent}},
                                      "lineItem": {"activationId": {"autoGenerate": True},
                                                   "product": {"primaryKeys": {"name": product[0],
                                                                               "version": product[1]}},
                                                   "numberOfCopies": count},
                                      "allowActivationsOnParent": True, "autoDeploy": True}]}

        r = z.service.upgradeLicense(entitlementData=[unit_of(aid, self.cat.upgrade),
                                                      unit_of("missing-" + t, self.cat.upgrade)])
        self.check_last(z, v)
        self.assertEqual(r.statusInfo.status, "PARTIAL_FAILURE")
        self.assertTrue(r.responseData.entitlementData[0].createdLineItemData[0].newLineItem.activationId)
        self.assertTrue(r.failedData.failedEntitlement[0].reason.startswith("LINE_ITEM_NOT_FOUND"))
        r = z.service.upsellLicense(entitlementData=[unit_of(aid, self.cat.upsell)])
        self.check_last(z, v)
        self.assertEqual(r.statusInfo.status, "SUCCESS", r)
        r = z.service.renewLicense(entitlementData=[{"renewLineItemData": [{
            "parentLineItemIdentifier": {"primaryKeys": {"activationId": aid}},
            "renewParameters": {"activationId": {"autoGenerate": True},
                                "expirationTerms": {"expirationDate": "2031-12-31"}, "numberOfCopies": 2}}]}])
        self.check_last(z, v)
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        r = z.service.setLineItemState(lineItem=[{"lineItemIdentifier": {"primaryKeys": {"activationId": aid}},
                                                  "stateToSet": "INACTIVE"}])
        self.check_last(z, v)
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        r = z.service.setEntitlementState(entitlement=[{"entitlementIdentifier": {"primaryKeys": {"entitlementId": eid}},
                                                        "stateToSet": "OBSOLETE"}])
        self.check_last(z, v)
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        r = z.service.deleteEntitlement(entitlement=[{"entitlementIdentifier": {"primaryKeys": {"entitlementId": eid}}}])
        self.check_last(z, v)
        self.assertEqual(r.statusInfo.status, "SUCCESS")

    def test_one_version_writes_another_reads(self):
        for writer, reader in ((4, 1), (1, 4), (2, 3), (3, 2)):
            with self.subTest(writer=writer, reader=reader):
                t = token(8)
                eid, account = f"X{writer}{reader}-{t}", f"ACC-{t}"
                zw, zr = self.zeep_client(writer), self.zeep_client(reader)
                ent = {"entitlementId": {"id": eid},
                       "channelPartners": {"channelPartner": [self.partner(writer, account)]}}
                if writer >= 3:
                    ent["emailTemplateVariation"] = "Welcome"
                r = zw.service.createSimpleEntitlement(simpleEntitlement=[ent])
                self.assertEqual(r.statusInfo.status, "SUCCESS")
                r = zr.service.getEntitlementsQuery(entitlementSearchCriteria={
                    "entitlementId": {"value": eid, "searchType": "EQUALS"}}, batchSize=10)
                self.check_last(zr, reader)
                ent = r.entitlement[0].simpleEntitlement
                cp = ent.channelPartners.channelPartner[0]
                unit = cp.organizationUnit if reader <= 2 else cp.accountUnit
                self.assertEqual(unit.primaryKeys.id if reader == 4 else unit.primaryKeys.name, account)
                sent = etree.tostring(zr.history.last_received["envelope"])
                if reader <= 2:
                    # What v1/v2 cannot express is left out, not sent under a wrong name.
                    for element in (b"lastModifiedDateTime", b"emailTemplateVariation", b"accountUnit"):
                        self.assertNotIn(element, sent)
                else:
                    self.assertIn(b"lastModifiedDateTime", sent)
                    self.assertEqual(ent.emailTemplateVariation, "Welcome" if writer >= 3 else None)

    def test_elements_a_version_does_not_declare_are_refused(self):
        t = token(8)
        cases = [
            (1, "<v4:searchEntitlementRequest><v4:entitlementSearchCriteria><v4:contactEmail><v4:value>a</v4:value>"
                "<v4:searchType>EQUALS</v4:searchType></v4:contactEmail></v4:entitlementSearchCriteria>"
                "<v4:batchSize>1</v4:batchSize></v4:searchEntitlementRequest>", "contactEmail"),
            (3, "<v4:getEntitlementCountRequest><v4:queryParams><v4:accountUnitName><v4:value>a</v4:value>"
                "<v4:searchType>EQUALS</v4:searchType><v4:isSearchByName>true</v4:isSearchByName>"
                "</v4:accountUnitName></v4:queryParams></v4:getEntitlementCountRequest>", "isSearchByName"),
            (2, "<v4:getEntitlementCountRequest><v4:queryParams><v4:accountUnitName><v4:value>a</v4:value>"
                "<v4:searchType>EQUALS</v4:searchType></v4:accountUnitName></v4:queryParams>"
                "</v4:getEntitlementCountRequest>", "accountUnitName"),
            (2, f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId><v4:id>R-{t}</v4:id>"
                "</v4:entitlementId><v4:emailTemplateVariation>x</v4:emailTemplateVariation>"
                "</v4:simpleEntitlement></v4:createSimpleEntitlementRequest>", "emailTemplateVariation"),
            (3, f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId><v4:id>R-{t}</v4:id>"
                "</v4:entitlementId><v4:channelPartners><v4:channelPartner><v4:tierName>T</v4:tierName>"
                "<v4:accountUnit><v4:primaryKeys><v4:id>A</v4:id></v4:primaryKeys></v4:accountUnit>"
                "</v4:channelPartner></v4:channelPartners></v4:simpleEntitlement>"
                "</v4:createSimpleEntitlementRequest>", "id"),
            (4, f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId><v4:id>R-{t}</v4:id>"
                "</v4:entitlementId><v4:channelPartners><v4:channelPartner><v4:tierName>T</v4:tierName>"
                "<v4:organizationUnit><v4:primaryKeys><v4:name>A</v4:name></v4:primaryKeys></v4:organizationUnit>"
                "</v4:channelPartner></v4:channelPartners></v4:simpleEntitlement>"
                "</v4:createSimpleEntitlementRequest>", "organizationUnit"),
            (1, f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId><v4:id>R-{t}</v4:id>"
                "</v4:entitlementId><v4:maintenanceLineItems><v4:activationId><v4:id>R-{t}-M</v4:id></v4:activationId>"
                "<v4:maintenanceLineItemAttributes/></v4:maintenanceLineItems></v4:simpleEntitlement>"
                "</v4:createSimpleEntitlementRequest>", "maintenanceLineItemAttributes"),
        ]
        for v, body, element in cases:
            with self.subTest(version=v, element=element):
                ns = f"urn:v{v}.webservices.operations.flexnet.com"
                c = Client(self.daemon, self.user, path=PATH.replace("/v4/", f"/v{v}/"))
                r = c.raw(envelope(body, ns=ns))
                self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
                self.assertEqual(r.faultstring, f"malformed request: element <v4:{element}> is not expected here")
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", f"R-{t}"), [["0"]])

    def test_other_versions_elements_and_messages_in_the_clients_names(self):
        t = token(8)
        v2, v4 = "urn:v2.webservices.operations.flexnet.com", "urn:v4.webservices.operations.flexnet.com"
        c = Client(self.daemon, self.user, path=PATH.replace("/v4/", "/v2/"))
        # An element of v4's namespace inside a v2 request: gSOAP would read it.
        r = c.raw(envelope(f"<v4:createSimpleEntitlementRequest><v4:simpleEntitlement><v4:entitlementId>"
                           f"<v4:id>W-{t}</v4:id></v4:entitlementId><x:emailTemplateVariation xmlns:x=\"{v4}\">E"
                           "</x:emailTemplateVariation></v4:simpleEntitlement></v4:createSimpleEntitlementRequest>",
                           ns=v2))
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertEqual(r.faultstring, f"wrong namespace: element <x:emailTemplateVariation> is in {v4}, "
                                        f"the request in {v2}")
        self.assertEqual(psql("SELECT count(*) FROM entitlements WHERE entitlement_id = :'v1'", f"W-{t}"), [["0"]])
        # gSOAP's refusal of a renamed element names it as the client did.
        c = Client(self.daemon, self.user, path=PATH.replace("/v4/", "/v2/"))
        r = c.raw(envelope("<v4:getEntitlementCountRequest><v4:queryParams><v4:organizationUnitName><v4:value>a"
                           "</v4:value></v4:organizationUnitName></v4:queryParams></v4:getEntitlementCountRequest>",
                           ns=v2))
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertIn("Element 'organizationUnitName': Missing child element(s). Expected is ( searchType )",
                      r.faultstring)
        self.assertNotIn("accountUnit", r.faultstring)
        # A request is read and answered in its own version, whatever the
        # path: a v4 request sent to /v1 (accountUnitName is v4's), a v2 one
        # sent to /v4 (organizationUnitName is v2's, and v4's name is not
        # taken for it).
        def count(criterion, ns):
            return envelope(f"<v4:getEntitlementCountRequest><v4:queryParams><v4:{criterion}><v4:value>a</v4:value>"
                            f"<v4:searchType>EQUALS</v4:searchType></v4:{criterion}></v4:queryParams>"
                            "</v4:getEntitlementCountRequest>", ns=ns)
        for path_v, ns, criterion, other in ((1, v4, "accountUnitName", "urn:v1."),
                                             (4, v2, "organizationUnitName", "urn:v4.")):
            c = Client(self.daemon, self.user, path=PATH.replace("/v4/", f"/v{path_v}/"))
            r = c.raw(count(criterion, ns))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.payload.tag, f"{{{ns}}}getEntitlementCountResponse", r.body)
            self.assertNotIn(other.encode(), r.body)
            c.close()
        c = Client(self.daemon, self.user, path=PATH)
        r = c.raw(count("accountUnitName", v2))
        self.assertEqual(r.faultcode, "SOAP-ENV:Client", r.body)
        self.assertIn("<v4:accountUnitName>", r.faultstring)
        c.close()

    def test_an_answer_that_cannot_be_rewritten_is_a_server_fault(self):
        # A character XML forbids, put into the store behind the service's
        # back: the v1 answer cannot be written in v1's trees, and v4's
        # names are never sent instead.
        t = token(8)
        z = self.zeep_client(4)
        eid = f"CTRL-{t}"
        self.assertEqual(z.service.createSimpleEntitlement(simpleEntitlement=[{"entitlementId": {"id": eid}}])
                         .statusInfo.status, "SUCCESS")
        psql("UPDATE entitlements SET sold_to = 'a' || chr(1) || 'b' WHERE entitlement_id = :'v1'", eid)
        c = Client(self.daemon, self.user, path=PATH.replace("/v4/", "/v1/"))
        r = c.raw(envelope(f"<v4:searchEntitlementRequest><v4:entitlementSearchCriteria><v4:entitlementId>"
                           f"<v4:value>{eid}</v4:value><v4:searchType>EQUALS</v4:searchType></v4:entitlementId>"
                           "</v4:entitlementSearchCriteria><v4:batchSize>1</v4:batchSize></v4:searchEntitlementRequest>",
                           ns="urn:v1.webservices.operations.flexnet.com"))
        self.assertEqual(r.status, 500, r.body)
        self.assertEqual(r.faultcode, "SOAP-ENV:Server", r.body)
        self.assertNotIn(b"lastModifiedDateTime", r.body)
        psql("DELETE FROM line_items WHERE entitlement_id IN (SELECT id FROM entitlements WHERE entitlement_id = :'v1')",
             eid)
        psql("DELETE FROM entitlements WHERE entitlement_id = :'v1'", eid)

    def test_served_trees_differ_as_expected(self):
        with open(os.path.join(os.path.dirname(__file__), "versions_expected.txt")) as f:
            expected = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        self.assertEqual(tree_differences(self.daemon), expected)


if __name__ == "__main__":
    unittest.main()
