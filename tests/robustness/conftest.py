"""Fixtures of the robustness suite (the helpers themselves live in ``robustkit``)."""

from robustkit import bystanders, denier, home

__all__ = ["bystanders", "denier", "home"]
