"""A real WordPress on 127.0.0.1 for tests, started by tools/wordpress/start.sh."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import missing

START = Path(__file__).resolve().parent.parent / "tools" / "wordpress" / "start.sh"
PACKAGES_MISSING = 3  # start.sh's exit status when apt cannot install the packages


@dataclass(frozen=True)
class WordPressSite:
    url: str
    username: str
    application_password: str

    @property
    def secret(self) -> str:
        return f"{self.username}:{self.application_password}"

    def api(self, method: str, route: str, **kwargs: object) -> httpx.Response:
        """Ask the site directly (as an editor looking at it would), not via our connector."""
        params = {"rest_route": f"/wp/v2/{route}", **kwargs.pop("params", {})}  # type: ignore[dict-item]
        return httpx.request(method, self.url + "/", params=params,
                             auth=(self.username, self.application_password), timeout=30,
                             **kwargs)  # type: ignore[arg-type]

    def posts_with_slug(self, slug: str) -> list[dict]:
        response = self.api("GET", "posts", params={"slug": slug, "status": "any",
                                                    "context": "edit"})
        response.raise_for_status()
        return response.json()


def wordpress_start() -> WordPressSite:
    """The site's URL and a fresh application password; skips only if apt cannot install."""
    done = subprocess.run(["bash", str(START)], capture_output=True, text=True, timeout=600)
    if done.returncode == PACKAGES_MISSING:
        missing(f"WordPress's Debian packages could not be installed: {done.stderr.strip()}")
    if done.returncode != 0:
        raise RuntimeError(f"tools/wordpress/start.sh failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    return WordPressSite(url=info["url"], username=info["username"],
                         application_password=info["application_password"])
