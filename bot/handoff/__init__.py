"""帮办代办: handing a person to a human helper with full context.

`models` (SQL tables), `config` (queues, routing, office hours), `service` (tickets, helpers, sessions: plain
synchronous units of work), `runtime` (the service inside the web server: live pushes, the channel `router`,
Rasa's HTTP API), `internal_api` (localhost API for the action server and other channels).
"""
