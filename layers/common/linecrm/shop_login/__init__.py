"""Auto-login into the shop: signing keys (``keys``), login tokens (``tokens``), minting
for a linked friend and the shop's consume call (``service``). See
``linecrm.domain.shop_login`` for the rules and docs/auto-login.md for the shop's side."""
