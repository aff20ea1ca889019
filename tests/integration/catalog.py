"""A private product catalog per test class, made with entitlementctl."""
from harness import ctl, token


class Catalog:
    def __init__(self):
        t = token(8)
        self.base = ("Base-" + t, "1.0")
        self.upgrade = ("Base-" + t, "2.0")
        self.upsell = ("Pro-" + t, "1.0")
        self.unrelated = ("Other-" + t, "1.0")
        for name, version in (self.base, self.upgrade, self.upsell, self.unrelated):
            ctl("product", "add", name, version)
        ctl("product", "relate", *self.base, *self.upgrade, "UPGRADE")
        ctl("product", "relate", *self.base, *self.upsell, "UPSELL")
