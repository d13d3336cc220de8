"""linecrm: CRM and marketing automation for LINE Official Accounts, on AWS serverless."""

__version__ = "0.1.0"
