"""The local stack: moto, the LINE emulator, a gateway, a scheduler runner and an SQS
poller around the same Lambda handlers that run on AWS (dev-only, never in the layer)."""
