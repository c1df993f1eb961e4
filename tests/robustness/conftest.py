"""Fixtures of the robustness suite (the helpers themselves live in ``robustkit``)."""

from robustkit import bystanders, denier

__all__ = ["bystanders", "denier"]
