"""帮办代办: handing a person to a human helper with full context.

`models` (SQL tables), `config` (queues, routing, office hours), `records` (what the service returns),
`service` (plain synchronous units of work, by concern in `tickets`, `messages`, `lists`, `accounts`; ratings
and complaints in `feedback`), `sql` (the web process's one SQL thread), `runtime` (the service inside the web
server: live pushes, the channel `router`, Rasa's HTTP API), `internal_api` (localhost API for the action server
and other channels).
"""
