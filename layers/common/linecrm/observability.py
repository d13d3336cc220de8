"""Logger, Tracer and Metrics: created once, shared by every function."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "linecrm"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)
