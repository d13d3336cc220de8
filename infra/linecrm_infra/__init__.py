"""The linecrm CDK app: one stack composed of constructs per concern."""
