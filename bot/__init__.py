"""Rasa-side Python of the pre-application guidance assistant: web page, start-up command, helpers."""
