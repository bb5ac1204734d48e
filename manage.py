#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aigc_platform.settings")
    # The demo is a developer's convenience on this machine: DEBUG on (no keys to set)
    # for it and the processes it starts, unless DJANGO_DEBUG says otherwise.
    if sys.argv[1:2] == ["demo"]:
        os.environ.setdefault("DJANGO_DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
