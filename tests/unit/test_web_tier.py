"""The web tier never loads the compute side: torch and transformers stay on the workers."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings


def test_the_web_tier_imports_neither_torch_nor_transformers():
    # given a fresh interpreter that loads everything a web process serves
    script = ("import os, sys; os.environ['DJANGO_SETTINGS_MODULE'] = 'aigc_platform.settings'; "
              "import django; django.setup(); "
              "import aigc_platform.asgi, aigc_platform.urls, aigc_platform.api_urls, "
              "aigc_platform.routing, apps.dashboard.views, apps.generation.api, "
              "apps.publishing.api, apps.integrations.api, apps.generation.admin; "
              "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    # when it has loaded them
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, env=os.environ | {"AIGC_VAR_DIR": str(settings.VAR_DIR)})
    # then neither heavy library came with them
    assert loaded.stdout.strip() == "[]"
