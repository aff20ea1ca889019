"""A second client nobody here wrote, of every version: python3-suds loads
each version's served ?wsdl and creates an entitlement with a channel
partner, finds it by the partner's account and reads it back, its
channel partner under that version's names. (suds failed on the v1 answers
when /v1 spoke v4's trees: TypeNotFound for lastModifiedDateTime.)"""
import logging
import unittest

from suds.client import Client as SudsClient
from suds.transport.http import HttpAuthenticated

from harness import PATH, DaemonTestCase, token

logging.getLogger("suds").setLevel(logging.CRITICAL)


class SudsTest(DaemonTestCase):
    def suds(self, v):
        url = f"http://127.0.0.1:{self.daemon.port}{PATH.replace('/v4/', f'/v{v}/')}"
        transport = HttpAuthenticated(username=self.user.name, password=self.user.password)
        return SudsClient(url + "?wsdl", location=url, transport=transport, cache=None, faults=True)

    def test_each_version_writes_and_reads_channel_partners(self):
        for v in (1, 2, 3, 4):
            with self.subTest(version=v):
                c = self.suds(v)
                t = token(8)
                eid, account = f"S{v}-{t}", f"SACC-{v}-{t}"
                unit = "organizationUnit" if v <= 2 else "accountUnit"
                key = "id" if v == 4 else "name"
                partner = {"tierName": "Distributor", unit: {"primaryKeys": {key: account}}}
                r = c.service.createSimpleEntitlement(simpleEntitlement=[{
                    "entitlementId": {"id": eid}, "soldTo": "Suds Corp",
                    "channelPartners": {"channelPartner": [partner]}}])
                self.assertEqual(r.statusInfo.status, "SUCCESS")
                crit = {("organizationUnitName" if v <= 2 else "accountUnitName"):
                        {"value": account, "searchType": "EQUALS"}}
                r = c.service.getEntitlementsQuery(entitlementSearchCriteria=crit, batchSize=10)
                self.assertEqual(r.statusInfo.status, "SUCCESS")
                ent = r.entitlement[0].simpleEntitlement
                self.assertEqual(ent.entitlementId.id, eid)
                got = getattr(ent.channelPartners.channelPartner[0], unit)
                self.assertEqual(getattr(got.primaryKeys, key), account)
                if v <= 2:
                    self.assertFalse(hasattr(ent, "lastModifiedDateTime"))


if __name__ == "__main__":
    unittest.main()
