"""ID linking (ID連携): link tokens, the shop's nonces, the ``accountLink`` event, unlinks.
See ``linecrm.domain.id_links`` for the flow and docs/id-linking.md for the shop's side."""
