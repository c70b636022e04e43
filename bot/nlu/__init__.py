"""Rasa-side NLU helpers built from the catalog."""
