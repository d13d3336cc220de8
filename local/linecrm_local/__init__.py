"""The local stack: moto, the LINE emulator, a gateway, a scheduler runner and an SQS
poller around the same Lambda handlers that run on AWS (dev-only, never in the layer).

The ``linecrm`` CLI (``cli``, ``admin_cli``, ``cli_broadcasts``, ``cli_imports``) lives
here too but needs none of that: only the runtime dependencies and the ``cli`` extra
(tests/unit/test_cli_package.py)."""
