"""Shared test helpers and fixtures (one place; test modules never import each other)."""
