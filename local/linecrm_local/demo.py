"""The demo channel the local stack starts with: fixed values so users can copy them.

These are public, local-only credentials of an emulated channel (hence the noqa).
"""

from __future__ import annotations

DEMO_CHANNEL_ID = "2000000001"
DEMO_CHANNEL_SECRET = "0123456789abcdef0123456789abcdef"  # noqa: S105 - 32 hex chars like LINE's
DEMO_CHANNEL_ACCESS_TOKEN = "linecrm-local-demo-channel-access-token"  # noqa: S105
DEMO_BOT_USER_ID = "U" + "d" * 32
# The LINE Login channel linked to the demo account (inflow routes log in with it) and
# the account's basic id (its add-friend URL, /R/ti/p/@linecrm-demo on the emulator).
DEMO_LOGIN_CHANNEL_ID = "2000000002"
DEMO_LOGIN_CHANNEL_SECRET = "fedcba9876543210fedcba9876543210"  # noqa: S105 - local demo
DEMO_BOT_BASIC_ID = "@linecrm-demo"
# Bearer token for routes that are IAM-authorized on AWS (the admin API), locally.
DEMO_ADMIN_TOKEN = "linecrm-local-admin-token"  # noqa: S105
# The events API's demo source of the demo channel and its signing key (docs/events.md).
DEMO_EVENT_SOURCE = "demo-shop"
DEMO_EVENT_SOURCE_KEY = "linecrm-local-demo-events-key-0123456789"
# The demo channel's LIFF app (local only: the pages run on @line/liff-mock) and the
# demo shop's port (``make dev``; LINECRM_SHOP_PORT moves it).
DEMO_LIFF_ID = "2000000002-DemoLiff"
DEMO_SHOP_PORT = 8070
# The demo staff (docs/staff.md): one Cognito user per role, all with this password.
DEMO_STAFF_PASSWORD = "linecrm-demo"  # noqa: S105 - local demo users
DEMO_STAFF_DOMAIN = "demo.linecrm.local"
