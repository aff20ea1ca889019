"""Interop: python3-zeep (Debian), a SOAP client nobody here wrote, loads
our WSDL from ?wsdl and runs the main flows."""
import unittest

import requests
import zeep
from requests.auth import HTTPBasicAuth
from zeep.transports import Transport

from catalog import Catalog
from harness import PATH, DaemonTestCase, psql, token


class ZeepTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cat = Catalog()

    def zeep_client(self, version=4):
        session = requests.Session()
        session.auth = HTTPBasicAuth(self.user.name, self.user.password)
        path = PATH.replace("/v4/", f"/v{version}/")
        return zeep.Client(f"http://127.0.0.1:{self.daemon.port}{path}?wsdl",
                           transport=Transport(session=session, timeout=30))

    def create(self, z, eid, aid, count=10):
        return z.service.createSimpleEntitlement(
            simpleEntitlement=[{
                "entitlementId": {"id": eid},
                "soldTo": "Zeep Corp",
                "lineItems": [{
                    "activationId": {"id": aid},
                    "product": {"primaryKeys": {"name": self.cat.base[0], "version": self.cat.base[1]}},
                    "numberOfCopies": count,
                }],
                "autoDeploy": True,
            }])

    def test_create_upgrade_query(self):
        z = self.zeep_client()
        eid, aid = "Z-" + token(10), "ZL-" + token(10)
        r = self.create(z, eid, aid)
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        created = r.responseData.createdSimpleEntitlement[0]
        self.assertEqual(created.entitlementId, eid)
        self.assertTrue(created.uniqueId.startswith("HID-"))

        r = z.service.upgradeLicense(entitlementData=[{
            "parentEntitlementIdentifier": {"primaryKeys": {"entitlementId": eid}},
            "lineItemData": [{
                "parentLineItemIdentifier": {"primaryKeys": {"activationId": aid}},
                "lineItem": {
                    "activationId": {"autoGenerate": True},
                    "product": {"primaryKeys": {"name": self.cat.upgrade[0], "version": self.cat.upgrade[1]}},
                    "numberOfCopies": 4,
                },
                "isFull": False,
                "allowActivationsOnParent": True,
                "autoDeploy": True,
            }],
        }])
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        done = r.responseData.entitlementData[0]
        self.assertEqual(done.entitlementRecordRefNo, "1")
        self.assertEqual(done.parentEntitlementIdentifier.primaryKeys.entitlementId, eid)
        item = done.createdLineItemData[0]
        self.assertEqual(item.parentLineItemIdentifier.primaryKeys.activationId, aid)
        new_aid = item.newLineItem.activationId
        self.assertEqual(psql("SELECT number_of_copies, line_item_type FROM line_items WHERE activation_id = :'v1'",
                              new_aid), [["4", "UPGRADE"]])

        r = z.service.getEntitlementsQuery(
            entitlementSearchCriteria={"entitlementId": {"value": eid, "searchType": "EQUALS"}}, batchSize=10)
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        ent = r.entitlement[0].simpleEntitlement
        self.assertEqual(ent.entitlementId.id, eid)
        self.assertEqual(sorted(li.activationId.id for li in ent.lineItems), sorted([aid, new_aid]))

    def test_partial_failure_is_reported_not_raised(self):
        z = self.zeep_client()
        eid, aid = "Z-" + token(10), "ZL-" + token(10)
        self.create(z, eid, aid)

        def unit(parent):
            return {"lineItemData": [{
                "parentLineItemIdentifier": {"primaryKeys": {"activationId": parent}},
                "lineItem": {"activationId": {"autoGenerate": True},
                             "product": {"primaryKeys": {"name": self.cat.upgrade[0],
                                                         "version": self.cat.upgrade[1]}},
                             "numberOfCopies": 1},
                "allowActivationsOnParent": True}]}

        r = z.service.upgradeLicense(entitlementData=[unit(aid), unit("missing-" + token(6))])
        self.assertEqual(r.statusInfo.status, "PARTIAL_FAILURE")
        self.assertTrue(r.failedData.failedEntitlement[0].reason.startswith("LINE_ITEM_NOT_FOUND"))
        self.assertEqual(r.responseData.entitlementData[0].entitlementRecordRefNo, "1")

    def test_every_version_from_its_own_wsdl(self):
        eid, aid = "Z-" + token(10), "ZL-" + token(10)
        self.create(self.zeep_client(), eid, aid)
        for v in (1, 2, 3, 4):
            z = self.zeep_client(v)
            r = z.service.getEntitlementCount(queryParams={"entitlementId": {"value": eid, "searchType": "EQUALS"}})
            self.assertEqual((r.statusInfo.status, r.count), ("SUCCESS", 1))
        z = self.zeep_client(1)
        r = z.service.renewLicense(entitlementData=[{"renewLineItemData": [{
            "parentLineItemIdentifier": {"primaryKeys": {"activationId": aid}},
            "renewParameters": {"activationId": {"autoGenerate": True},
                                "expirationTerms": {"expirationDate": "2031-12-31"}, "numberOfCopies": 2}}]}])
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        self.assertEqual(r.responseData.entitlementData[0].renewedLineItem[0].parentLineItemIdentifier
                         .primaryKeys.activationId, aid)
        r = z.service.setLineItemState(lineItem=[{"lineItemIdentifier": {"primaryKeys": {"activationId": aid}},
                                                  "stateToSet": "INACTIVE"}])
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        r = z.service.deleteEntitlement(entitlement=[{"entitlementIdentifier": {"primaryKeys": {"entitlementId": eid}}}])
        self.assertEqual(r.statusInfo.status, "FAILURE")
        self.assertTrue(r.failedData.failedEntitlement[0].reason.startswith("INVALID_STATE"))
        r = z.service.setEntitlementState(entitlement=[{"entitlementIdentifier": {"primaryKeys": {"entitlementId": eid}},
                                                        "stateToSet": "OBSOLETE"}])
        self.assertEqual(r.statusInfo.status, "SUCCESS")
        r = z.service.deleteEntitlement(entitlement=[{"entitlementIdentifier": {"primaryKeys": {"entitlementId": eid}}}])
        self.assertEqual(r.statusInfo.status, "SUCCESS")

    def test_bad_credentials_raise_a_fault(self):
        z = self.zeep_client()
        z.transport.session.auth = HTTPBasicAuth(self.user.name, "wrong")
        with self.assertRaises(zeep.exceptions.Fault) as cm:
            z.service.getEntitlementsQuery(entitlementSearchCriteria={}, batchSize=1)
        self.assertIn("authentication", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
