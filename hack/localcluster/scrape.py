"""Reading a Prometheus endpoint as a person's Prometheus would: GET /metrics on 127.0.0.1,
parsed with prometheus_client's own text parser. The e2e metrics test and the dashboard's
picture (hack/dashboard.py) read the operator's figures through it.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Scrape:
    """One scrape: every sample by name and labels, and when it was taken."""

    at: float
    samples: Mapping[tuple[str, Labels], float]

    def value(self, name: str, **labels: str) -> float | None:
        """The sample with exactly these labels, or None."""
        return self.samples.get((name, frozenset(labels.items())))

    def total(self, name: str, **labels: str) -> float:
        """The sum of every sample of `name` whose labels include these (0 if none)."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(ls)[label] for n, ls in self.samples if n == name and label in dict(ls)}


def parse(text: str, at: float = 0.0) -> Scrape:
    samples = {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return Scrape(at, samples)


def scrape(url: str, at: float = 0.0, timeout: float = 5.0) -> Scrape:
    """GET `url` (a /metrics endpoint on 127.0.0.1) and parse it."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return parse(response.read().decode(), at)
