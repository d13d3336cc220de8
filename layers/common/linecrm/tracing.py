"""Powertools Tracer (X-Ray subsegments for boto3 and our methods).

Kept apart from ``linecrm.observability`` because creating a Tracer imports the X-Ray
SDK (about 0.2 s): the webhook, which must answer LINE fast from a cold start, relies
on Lambda's active tracing for its segment and does not import this module.
"""

from aws_lambda_powertools import Tracer

from linecrm.observability import SERVICE

tracer = Tracer(service=SERVICE)
