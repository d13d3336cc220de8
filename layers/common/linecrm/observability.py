"""Logger and Metrics (and, in ``linecrm.tracing``, Tracer): created once, shared."""

from aws_lambda_powertools import Logger, Metrics

SERVICE = "linecrm"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)
