"""Reads OpenMetrics text on stdin with prometheus_client's parser (which refuses what the
format does not allow) and prints every sample as JSON: [[name, labels, value], ...]."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

samples = [
    [s.name, s.labels, s.value]
    for family in text_string_to_metric_families(sys.stdin.read())
    for s in family.samples
]
json.dump(samples, sys.stdout)
