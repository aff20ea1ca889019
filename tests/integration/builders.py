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
        items = "".join(line_item_xml("lineItems", it[0], it[1], it[2], **(it[3] if len(it) > 3 else {}))
                        for it in e.get("items", []))
        parts.append(
            f"<v4:simpleEntitlement>{activation_id_xml(eid, e.get('auto')).replace('activationId', 'entitlementId')}"
            f"{_opt('description', e.get('description'))}{_opt('soldTo', e.get('sold_to'))}"
            f"{items}{_opt('autoDeploy', e.get('auto_deploy', True))}</v4:simpleEntitlement>")
    return (f"<v4:createSimpleEntitlementRequest>{''.join(parts)}{_opt('opType', op_type)}"
            f"</v4:createSimpleEntitlementRequest>")


def change_item_xml(parent, new_aid, product, count=1, is_full=None, allow=None, auto_deploy=True,
                    parent_uid=None, auto=None, order_id=None, item=None):
    """item: the lineItem element's XML, to send instead of the one built
    from new_aid, product, count, auto and order_id."""
    pid = (_opt("uniqueId", parent_uid) +
           (f"<v4:primaryKeys><v4:activationId>{escape(parent)}</v4:activationId></v4:primaryKeys>"
            if parent is not None else ""))
    if item is None:
        item = line_item_xml('lineItem', new_aid, product, count, auto=auto, order_id=order_id)
    return (f"<v4:lineItemData><v4:parentLineItemIdentifier>{pid}</v4:parentLineItemIdentifier>"
            f"{item}"
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


def renew_item_xml(parent, new_aid=None, auto=None, term=None, expiration=None, count=None, is_full=None,
                   allow=None, auto_deploy=True, permanent=None, extra=""):
    """extra: XML of the renewParameters elements after numberOfCopies
    (startDate ... lineItemAttributes), in schema order."""
    terms = ""
    if term is not None or expiration is not None:
        t = (f"<v4:term><v4:numDuration>{term[0]}</v4:numDuration><v4:durationUnit>{term[1]}</v4:durationUnit></v4:term>"
             if term is not None else "")
        terms = f"<v4:expirationTerms>{t}{_opt('expirationDate', expiration)}</v4:expirationTerms>"
    return (f"<v4:renewLineItemData><v4:parentLineItemIdentifier><v4:primaryKeys><v4:activationId>{escape(parent)}"
            f"</v4:activationId></v4:primaryKeys></v4:parentLineItemIdentifier><v4:renewParameters>"
            f"{activation_id_xml(new_aid, auto)}{_opt('isPermanent', permanent)}{terms}{_opt('numberOfCopies', count)}"
            f"{extra}</v4:renewParameters>{_opt('isFull', is_full)}{_opt('allowActivationsOnParent', allow)}"
            f"{_opt('autoDeploy', auto_deploy)}</v4:renewLineItemData>")


def renew_body(units):
    """units: list of dict(ent=None|eid, items=[renew_item_xml(...)])."""
    parts = []
    for u in units:
        ent = ""
        if u.get("ent") is not None:
            ent = (f"<v4:parentEntitlementIdentifier><v4:primaryKeys><v4:entitlementId>{escape(u['ent'])}"
                   f"</v4:entitlementId></v4:primaryKeys></v4:parentEntitlementIdentifier>")
        parts.append(f"<v4:entitlementData>{ent}{''.join(u['items'])}</v4:entitlementData>")
    return f"<v4:renewLicenseRequest>{''.join(parts)}</v4:renewLicenseRequest>"


def ent_ident(eid=None, uid=None):
    keys = f"<v4:primaryKeys><v4:entitlementId>{escape(eid)}</v4:entitlementId></v4:primaryKeys>" if eid else ""
    return f"{_opt('uniqueId', uid)}{keys}"


def set_entitlement_state_body(items):
    """items: list of (eid, state)."""
    parts = "".join(f"<v4:entitlement><v4:entitlementIdentifier>{ent_ident(e)}</v4:entitlementIdentifier>"
                    f"<v4:stateToSet>{s}</v4:stateToSet></v4:entitlement>" for e, s in items)
    return f"<v4:setEntitlementStateRequest>{parts}</v4:setEntitlementStateRequest>"


def set_line_item_state_body(items):
    """items: list of (aid, state, include_children)."""
    parts = "".join(f"<v4:lineItem><v4:lineItemIdentifier><v4:primaryKeys><v4:activationId>{escape(a)}"
                    f"</v4:activationId></v4:primaryKeys></v4:lineItemIdentifier><v4:stateToSet>{s}</v4:stateToSet>"
                    f"{_opt('includeChildItems', c)}</v4:lineItem>" for a, s, c in items)
    return f"<v4:setLineItemStateRequest>{parts}</v4:setLineItemStateRequest>"


def delete_body(eids):
    parts = "".join(f"<v4:entitlement><v4:entitlementIdentifier>{ent_ident(e)}</v4:entitlementIdentifier>"
                    f"</v4:entitlement>" for e in eids)
    return f"<v4:deleteEntitlementRequest>{parts}</v4:deleteEntitlementRequest>"


def count_body(criteria=""):
    return f"<v4:getEntitlementCountRequest><v4:queryParams>{criteria}</v4:queryParams></v4:getEntitlementCountRequest>"


def attributes_xml(tag, attrs):
    """An attributeDescriptorDataType element. attrs: list of (name, values),
    values a dict of stringValue, dateValue, booleanValue, integerValue and
    arrayValue (a list of strings), each optional."""
    parts = []
    for name, v in attrs:
        inner = f"<v4:attributeName>{escape(name)}</v4:attributeName>"
        for k in ("stringValue", "dateValue", "booleanValue", "integerValue"):
            inner += _opt(k, v.get(k))
        inner += "".join(f"<v4:arrayValue>{escape(x)}</v4:arrayValue>" for x in v.get("arrayValue", ()))
        parts.append(f"<v4:attribute>{inner}</v4:attribute>")
    return f"<v4:{tag}>{''.join(parts)}</v4:{tag}>"


# The optional elements of createEntitlementLineItemDataType, in schema order.
LINE_ITEM_ORDER = ("description", "product", "partNumber", "licenseModel", "alternateLicenseModel1",
                   "alternateLicenseModel2", "licenseModelAttributes", "FNPTimeZoneValue", "policyAttributes",
                   "orderId", "orderLineNumber", "numberOfCopies", "startDate", "startDateOption", "isPermanent",
                   "term", "expirationDate", "versionDate", "versionDateAttributes", "lineItemType",
                   "entitledProducts", "lineItemAttributes")


def line_item_full_xml(tag, aid, product, count, fields=None, auto=None):
    """A line item with any of its elements: fields maps element names of
    LINE_ITEM_ORDER to their complete XML (the element itself)."""
    fields = dict(fields or {})
    if product is not None:
        fields.setdefault("product", product_xml("product", *product))
    fields["numberOfCopies"] = f"<v4:numberOfCopies>{count}</v4:numberOfCopies>"
    unknown = set(fields) - set(LINE_ITEM_ORDER)
    if unknown:
        raise ValueError(f"not line item elements: {sorted(unknown)}")
    return (f"<v4:{tag}>{activation_id_xml(aid, auto)}{''.join(fields.get(k, '') for k in LINE_ITEM_ORDER)}"
            f"</v4:{tag}>")


def entitlement_full_xml(eid, items_xml, channel_partners=None, attributes=None, auto_deploy=True, sold_to=None):
    """A simpleEntitlement with line items (XML) and, as XML, its channelPartners
    and entitlementAttributes elements."""
    return (f"<v4:simpleEntitlement><v4:entitlementId><v4:id>{escape(eid)}</v4:id></v4:entitlementId>"
            f"{_opt('soldTo', sold_to)}{items_xml}{_opt('autoDeploy', auto_deploy)}{channel_partners or ''}"
            f"{attributes or ''}</v4:simpleEntitlement>")


def create_full_body(entitlements_xml, op_type=None):
    return (f"<v4:createSimpleEntitlementRequest>{''.join(entitlements_xml)}{_opt('opType', op_type)}"
            f"</v4:createSimpleEntitlementRequest>")


def attribute_query(criteria):
    """An entitlementAttributes search criterion. criteria: list of (name,
    value, searchType) with value None for "any value"."""
    parts = []
    for name, value, search_type in criteria:
        sv = (f"<v4:stringValue><v4:value>{escape(value)}</v4:value><v4:searchType>{search_type}"
              f"</v4:searchType></v4:stringValue>" if value is not None else "")
        parts.append(f"<v4:attribute><v4:attributeName>{escape(name)}</v4:attributeName>{sv}</v4:attribute>")
    return f"<v4:entitlementAttributes>{''.join(parts)}</v4:entitlementAttributes>"
