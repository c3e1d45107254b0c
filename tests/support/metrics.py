"""Reading a bridge's /metrics as Prometheus does: parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    """(sample name, its labels) -> value, for every sample of an exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the sample `name` with exactly these labels; None when there is none."""
    return samples.get((name, frozenset(labels.items())))


async def scrape(url: str) -> tuple[str, Samples]:
    """GET {url}/metrics: its text and samples."""
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return text, parse(text)


async def scrape_until(url: str, name: str, *, timeout: float = 6.0, **labels: str) -> Samples:
    """Scrape until sample `name` with these labels appears (the database's figures are read in the background)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        _, samples = await scrape(url)
        if value(samples, name, **labels) is not None or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.1)
