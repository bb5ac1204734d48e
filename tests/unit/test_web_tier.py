"""The web tier never loads the compute side: torch and transformers stay on the workers."""

from __future__ import annotations

from tests.clients import in_another_process


def test_the_web_tier_imports_neither_torch_nor_transformers():
    # given a fresh process that loads everything a web process serves
    loaded = in_another_process(
        "import sys, aigc_platform.asgi, aigc_platform.urls, aigc_platform.api_urls, "
        "aigc_platform.routing, apps.dashboard.views, apps.generation.api, apps.publishing.api, "
        "apps.integrations.api, apps.generation.admin\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    # then neither heavy library came with them
    assert loaded == "[]"
