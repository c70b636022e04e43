"""python -m bot.console: manage helper accounts of the console.

    python -m bot.console add-helper zhangsan --name 张三 --staff-no A012 --queue qykb --queue zonghe
    python -m bot.console add-helper boss --name 李主任 --staff-no S001 --supervisor
    python -m bot.console set-password zhangsan
    python -m bot.console set-queues zhangsan --queue bdc
    python -m bot.console disable zhangsan | enable zhangsan
    python -m bot.console list-helpers | list-queues
    python -m bot.console list-complaints [--full] [--no-ticket] [--limit 50]   # 办不成事, phone masked unless --full
    python -m bot.console list-ratings [--limit 50]                             # 好差评 of the bot and of helpers

Passwords are asked twice on a terminal, or read from the first line of stdin with --password-stdin.
Uses DATABASE_URL (or HANDOFF_DATABASE_URL) and HANDOFF_CONFIG like the web server.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from typing import List, Optional

from bot.handoff.config import HandoffConfig, HandoffConfigError
from bot.handoff.passwords import WeakPassword
from bot.handoff.records import SUPERVISOR, HandoffError, mask_sender
from bot.handoff.service import HandoffService
from bot.privacy import mask_personal_data
from bot.settings import Settings, SettingsError


def _service() -> HandoffService:
    from knowledge import make_engine

    settings = Settings.from_env()
    service = HandoffService(make_engine(settings.handoff_db_url), HandoffConfig.load(settings.handoff_config, settings.hall_timezone))
    service.setup()
    return service


def _password(args) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise SystemExit("no terminal to ask the password on: use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("the two passwords differ")
    return first


def _describe(helper) -> str:
    queues = "all queues" if helper.supervisor else (",".join(sorted(helper.queues)) or "no queue")
    state = "" if helper.active else " [disabled]"
    return f"{helper.username}\t{helper.display_name}\t{helper.staff_no}\t{helper.role}\t{queues}{state}"


def _one_line(text: Optional[str]) -> str:
    return " ".join((text or "").split())


def _print_complaints(service: HandoffService, full: bool, no_ticket: bool, limit: int) -> None:
    """Newest first; personal data masked unless --full (for the staff who call back)."""
    for c in service.feedback.complaints(limit=limit, without_ticket=no_ticket):
        local = service.config.local(c.created_at).strftime("%Y-%m-%d %H:%M")
        phone = c.phone if full else mask_personal_data(c.phone)
        person = c.sender if full else mask_sender(c.sender)
        detail = _one_line(c.detail) if full else mask_personal_data(_one_line(c.detail))
        matter = c.matter_code or _one_line(c.matter_text) or "-"
        ticket = f"ticket {c.ticket_id}" if c.ticket_id else "no ticket"
        print(f"{c.reference}\t{local}\t{c.channel}\t{person}\t{matter}\t{phone}\t{ticket}\t{detail}")


def _print_ratings(service: HandoffService, limit: int) -> None:
    for r in service.feedback.ratings(limit=limit):
        local = service.config.local(r.created_at).strftime("%Y-%m-%d %H:%M")
        ticket = f"ticket {r.ticket_id}" if r.ticket_id else "-"
        comment = mask_personal_data(_one_line(r.comment)) or "-"
        print(f"{r.id}\t{local}\t{r.kind}\t{r.channel}\t{r.matter_code or '-'}\t{r.score}\t{ticket}\t{comment}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.console", description="Helper accounts of the console.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-helper", help="create a helper account")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="name shown to citizens, e.g. 张三")
    add.add_argument("--staff-no", required=True, help="工号, shown to citizens")
    add.add_argument("--queue", action="append", default=[], help="a queue code (repeat for several)")
    add.add_argument("--supervisor", action="store_true", help="sees and manages all queues")
    add.add_argument("--password-stdin", action="store_true")
    pw = sub.add_parser("set-password", help="set a new password (ends the helper's sessions)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    queues = sub.add_parser("set-queues", help="replace a helper's queues")
    queues.add_argument("username")
    queues.add_argument("--queue", action="append", default=[])
    for name in ("disable", "enable"):
        sub.add_parser(name, help=f"{name} an account").add_argument("username")
    sub.add_parser("list-helpers")
    sub.add_parser("list-queues")
    complaints = sub.add_parser("list-complaints", help="办不成事 complaints, newest first")
    complaints.add_argument("--full", action="store_true", help="show phone numbers and details unmasked (staff)")
    complaints.add_argument("--no-ticket", action="store_true", help="only those no helper ticket was opened for")
    complaints.add_argument("--limit", type=int, default=50)
    ratings = sub.add_parser("list-ratings", help="好差评 ratings, newest first")
    ratings.add_argument("--limit", type=int, default=50)
    args = parser.parse_args(argv)

    try:
        service = _service()
        if args.command == "add-helper":
            if not args.queue and not args.supervisor:
                parser.error("give at least one --queue (or --supervisor)")
            helper = service.add_helper(args.username, args.name, args.staff_no, _password(args), args.queue,
                                        role=SUPERVISOR if args.supervisor else "helper")
            print(f"created: {_describe(helper)}")
        elif args.command == "set-password":
            service.set_password(args.username, _password(args))
            print(f"password changed for {args.username}")
        elif args.command == "set-queues":
            print(f"updated: {_describe(service.set_queues(args.username, args.queue))}")
        elif args.command in ("disable", "enable"):
            service.set_active(args.username, args.command == "enable")
            print(f"{args.command}d: {args.username}")
        elif args.command == "list-helpers":
            for helper in service.helpers():
                print(_describe(helper))
        elif args.command == "list-queues":
            for queue in service.config.queues:
                print(f"{queue.code}\t{queue.name}")
        elif args.command == "list-complaints":
            _print_complaints(service, args.full, args.no_ticket, max(1, args.limit))
        elif args.command == "list-ratings":
            _print_ratings(service, max(1, args.limit))
    except (SettingsError, HandoffConfigError) as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except WeakPassword as exc:
        print(f"Password refused: {exc}", file=sys.stderr)
        return 1
    except HandoffError as exc:
        messages = {"username_taken": "this username exists already", "unknown_helper": "no such helper",
                    "bad_username": "a username has no spaces and at most 64 characters"}
        code = exc.code
        text = messages.get(code) or (f"unknown queue(s): {code.split(':', 1)[1]} (see list-queues)"
                                      if code.startswith("unknown_queue") else code)
        print(f"Error: {text}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
