"""Clients: one per remote, each with its timeouts and authentication in one place.

- `handoff.HandoffClient`: the web server's internal handoff API (action server, WeChat channel) and the
  channel deliveries the handoff makes to other processes; the per-run secret in `X-Handoff-Secret`.
- `rasa.RasaClient`: Rasa's HTTP API (the REST channel for our page, conversations for the handoff and the
  idle rating question).
"""
