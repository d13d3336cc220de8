"""A tiny demo EC site for the local stack (``make dev``; never deployed).

It is the shop that docs/id-linking.md and docs/liff.md talk to: member login, the
account-link nonce request, auto-login from LINE (a signed single-use login URL), and a
cart and a purchase that send ``cart_updated`` / ``purchase`` to the events API.
"""

from linecrm_local.demo_shop.server import DemoShop, DemoShopConfig

__all__ = ["DemoShop", "DemoShopConfig"]
