"""Onramp's platform-agnostic core."""
