"""Tocsin: metric alerting and trigger service."""

__version__ = "0.1.0"
