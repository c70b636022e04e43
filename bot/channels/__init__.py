"""Custom Rasa input channels served by the Rasa server (WeChat 公众号)."""
