"""Request bodies for the tests, built as text from plain Python values.
Values are XML-escaped here; tests that send hostile bytes build their own."""
from xml.sax.saxutils import escape


def _opt(tag, value):
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<v4:{tag}>{escape(str(value))}</v4:{tag}>"


def product_xml(tag, name, version):
    return (f"<v4:{tag}><v4:primaryKeys><v4:name>{escape(name)}</v4:name>"
            f"<v4:version>{escape(version)}</v4:version></v4:primaryKeys></v4:{tag}>")


def activation_id_xml(aid, auto=None):
    inner = (f"<v4:id>{escape(aid)}</v4:id>" if aid is not None else "") + _opt("autoGenerate", auto)
    return f"<v4:activationId>{inner}</v4:activationId>"


def line_item_xml(tag, aid, product, count, auto=None, order_id=None, description=None,
                  start=None, expiration=None, permanent=None):
    return (f"<v4:{tag}>{activation_id_xml(aid, auto)}{_opt('description', description)}"
            f"{product_xml('product', *product) if product else ''}"
            f"{_opt('orderId', order_id)}<v4:numberOfCopies>{count}</v4:numberOfCopies>"
            f"{_opt('startDate', start)}{_opt('isPermanent', permanent)}"
            f"{_opt('expirationDate', expiration)}</v4:{tag}>")


def create_body(entitlements, op_type=None):
    """entitlements: list of dicts(eid, items=[(aid, (name, version), count)],
    auto_deploy=True, sold_to=None, description=None)."""
    parts = []
    for e in entitlements:
        eid = e.get("eid")
        items = "".join(line_item_xml("lineItems", aid, prod, count) for aid, prod, count in e.get("items", []))
        parts.append(
            f"<v4:simpleEntitlement>{activation_id_xml(eid, e.get('auto')).replace('activationId', 'entitlementId')}"
            f"{_opt('description', e.get('description'))}{_opt('soldTo', e.get('sold_to'))}"
            f"{items}{_opt('autoDeploy', e.get('auto_deploy', True))}</v4:simpleEntitlement>")
    return (f"<v4:createSimpleEntitlementRequest>{''.join(parts)}{_opt('opType', op_type)}"
            f"</v4:createSimpleEntitlementRequest>")


def change_item_xml(parent, new_aid, product, count=1, is_full=None, allow=None, auto_deploy=True,
                    parent_uid=None, auto=None, order_id=None):
    pid = (_opt("uniqueId", parent_uid) +
           (f"<v4:primaryKeys><v4:activationId>{escape(parent)}</v4:activationId></v4:primaryKeys>"
            if parent is not None else ""))
    return (f"<v4:lineItemData><v4:parentLineItemIdentifier>{pid}</v4:parentLineItemIdentifier>"
            f"{line_item_xml('lineItem', new_aid, product, count, auto=auto, order_id=order_id)}"
            f"{_opt('isFull', is_full)}{_opt('allowActivationsOnParent', allow)}"
            f"{_opt('autoDeploy', auto_deploy)}</v4:lineItemData>")


def lifecycle_body(op, units):
    """op: upgradeLicense or upsellLicense; units: list of dict(ent=None|eid,
    ent_uid=None, items=[change_item_xml(...), ...])."""
    parts = []
    for u in units:
        ent = ""
        if u.get("ent") is not None or u.get("ent_uid") is not None:
            keys = (f"<v4:primaryKeys><v4:entitlementId>{escape(u['ent'])}</v4:entitlementId></v4:primaryKeys>"
                    if u.get("ent") is not None else "")
            ent = f"<v4:parentEntitlementIdentifier>{_opt('uniqueId', u.get('ent_uid'))}{keys}</v4:parentEntitlementIdentifier>"
        parts.append(f"<v4:entitlementData>{ent}{''.join(u['items'])}</v4:entitlementData>")
    return f"<v4:{op}Request>{''.join(parts)}</v4:{op}Request>"


def search_body(criteria="", batch=100, page=None):
    return (f"<v4:searchEntitlementRequest><v4:entitlementSearchCriteria>{criteria}"
            f"</v4:entitlementSearchCriteria><v4:batchSize>{batch}</v4:batchSize>"
            f"{_opt('pageNumber', page)}</v4:searchEntitlementRequest>")


def simple_query(tag, value, search_type="EQUALS"):
    return f"<v4:{tag}><v4:value>{escape(value)}</v4:value><v4:searchType>{search_type}</v4:searchType></v4:{tag}>"
