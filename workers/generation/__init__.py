"""Generation engines: Django-free, plain dataclasses in and out; torch is imported lazily."""
