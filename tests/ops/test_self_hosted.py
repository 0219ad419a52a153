"""Every asset is self-hosted: no template, asset or rendered page references another host
(no CDN, web font, analytics or image from elsewhere leaves the deployment)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.helpers.journal import signed_in

APP = Path(__file__).resolve().parents[2] / "app"
SCANNED = {".html", ".txt", ".css", ".js", ".svg", ".xml"}
# An absolute or protocol-relative address anywhere: in an attribute, url(), @import, script.
ELSEWHERE = re.compile(r"(?:https?:)?//[A-Za-z0-9][A-Za-z0-9.-]*(?::\d+)?", re.I)
# XML namespaces name a vocabulary; nothing is fetched from them.
NAMESPACE = re.compile(r'xmlns(?::\w+)?\s*=\s*"http://www\.w3\.org/[^"]*"')
LINK = re.compile(r'(?:href|src|action|srcset|poster|content)\s*=\s*"([^"]*)"', re.I)
PAGES_PER_ROLE = 40


def shipped_files() -> list[Path]:
    return [p for p in APP.rglob("*") if p.suffix in SCANNED and p.is_file()]


def test_the_scan_reads_every_template_and_asset():
    names = {p.name for p in shipped_files()}
    assert {"base.html", "site.css", "idle.js"} <= names


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: str(p.relative_to(APP)))
def test_no_template_or_asset_names_another_host(path):
    assert other_hosts(path.read_text(errors="replace")) == []


def crawl(client, host: str) -> dict[str, str]:
    """Every page reachable by following links on ``host`` from its home page (GET only)."""
    seen: dict[str, str] = {}
    waiting = ["/"]
    while waiting and len(seen) < PAGES_PER_ROLE:
        path = waiting.pop(0)
        if path in seen:
            continue
        answer = client.get(path)
        seen[path] = answer.text if answer.mimetype == "text/html" else ""
        for target in LINK.findall(seen[path]):
            address = urlsplit(urljoin(f"http://{host}{path}", target))
            if address.hostname == host.split(":")[0] and address.scheme == "http":
                waiting.append(address.path)
    return seen


def other_hosts(html: str, own_host: str | None = None) -> list[str]:
    """Hosts other than ``own_host`` that the text points at."""
    found = ELSEWHERE.findall(NAMESPACE.sub("", html))
    hosts = [urlsplit(f if f.lower().startswith("http") else f"http:{f}").netloc for f in found]
    return [host for host in hosts if host != own_host]


@pytest.mark.parametrize("who", ["anonymous", "manager", "staff", "parent_a"])
def test_no_rendered_page_references_another_host(app, family, who):
    host = f"{family.slug}.localhost"
    pages = crawl(signed_in(app, family, who), host)
    assert len(pages) > (1 if who == "anonymous" else 3)
    for path, html in pages.items():
        assert other_hosts(html, host) == [], path


def test_the_landing_page_references_no_other_host(app):
    assert other_hosts(app.test_client().get("/", base_url="http://localhost").text) == []
