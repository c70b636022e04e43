"""Helper accounts and console sessions."""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Iterable, List, Optional

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from . import models as m
from .passwords import DUMMY_HASH, hash_password, verify_password
from .records import HELPER_ROLE, SUPERVISOR, HandoffError, HelperInfo

logger = logging.getLogger(__name__)


class AccountsMixin:
    """Part of HandoffService (bot/handoff/service.py), which provides engine, config, clock and conversions."""

    # -- helpers -------------------------------------------------------------------------------------

    def add_helper(self, username: str, display_name: str, staff_no: str, password: str,
                   queues: Iterable[str] = (), role: str = HELPER_ROLE) -> HelperInfo:
        username = username.strip()
        if not username or len(username) > 64 or not username.isprintable() or " " in username:
            raise HandoffError("bad_username")
        if role not in (HELPER_ROLE, SUPERVISOR):
            raise HandoffError("bad_role")
        queues = self._check_queues(queues)
        password_hash = hash_password(password)
        with Session(self.engine) as session, session.begin():
            if session.scalars(select(m.Helper).where(m.Helper.username == username)).first():
                raise HandoffError("username_taken")
            helper = m.Helper(username=username, display_name=display_name.strip() or username,
                              staff_no=staff_no.strip(), password_hash=password_hash, role=role, active=True,
                              created_at=self.clock())
            session.add(helper)
            session.flush()
            for code in queues:
                session.add(m.HelperQueue(helper_id=helper.id, queue_code=code))
            session.flush()
            return self._helper_info(session, helper)

    def _check_queues(self, queues: Iterable[str]) -> List[str]:
        codes = sorted({q.strip() for q in queues if q.strip()})
        unknown = [c for c in codes if self.config.queue(c) is None]
        if unknown:
            raise HandoffError("unknown_queue:" + ",".join(unknown))
        return codes

    def _helper_row(self, session: Session, username: str) -> m.Helper:
        helper = session.scalars(select(m.Helper).where(m.Helper.username == username)).first()
        if helper is None:
            raise HandoffError("unknown_helper")
        return helper

    def set_password(self, username: str, password: str) -> None:
        password_hash = hash_password(password)
        with Session(self.engine) as session, session.begin():
            helper = self._helper_row(session, username)
            helper.password_hash = password_hash
            # A new password ends every session of the old one.
            session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.helper_id == helper.id))

    def set_queues(self, username: str, queues: Iterable[str]) -> HelperInfo:
        codes = self._check_queues(queues)
        with Session(self.engine) as session, session.begin():
            helper = self._helper_row(session, username)
            session.execute(delete(m.HelperQueue).where(m.HelperQueue.helper_id == helper.id))
            for code in codes:
                session.add(m.HelperQueue(helper_id=helper.id, queue_code=code))
            session.flush()
            return self._helper_info(session, helper)

    def set_active(self, username: str, active: bool) -> None:
        with Session(self.engine) as session, session.begin():
            helper = self._helper_row(session, username)
            helper.active = active
            if not active:
                session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.helper_id == helper.id))

    def helpers(self) -> List[HelperInfo]:
        with Session(self.engine) as session:
            rows = session.scalars(select(m.Helper).order_by(m.Helper.username)).all()
            return [self._helper_info(session, h) for h in rows]

    def helper(self, helper_id: int) -> Optional[HelperInfo]:
        with Session(self.engine) as session:
            h = session.get(m.Helper, helper_id)
            return self._helper_info(session, h) if h else None

    def authenticate(self, username: str, password: str) -> Optional[HelperInfo]:
        with Session(self.engine) as session:
            helper = session.scalars(select(m.Helper).where(m.Helper.username == username.strip())).first()
            stored = helper.password_hash if helper is not None else DUMMY_HASH
            # Always hash, so an unknown name takes as long as a wrong password.
            ok = verify_password(password, stored)
            if helper is None or not ok or not helper.active:
                return None
            return self._helper_info(session, helper)

    def set_on_duty(self, helper_id: int, seconds: Optional[float]) -> None:
        """On duty for this many seconds from now; None: off duty now."""
        now = self.clock()
        until = now + timedelta(seconds=seconds) if seconds else now
        with Session(self.engine) as session, session.begin():
            session.execute(update(m.Helper).where(m.Helper.id == helper_id).values(on_duty_until=until)
                            .execution_options(synchronize_session=False))

    # -- console sessions ----------------------------------------------------------------------------

    @staticmethod
    def _token_hash(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def create_session(self, helper_id: int, minutes: int) -> tuple:
        """A new session: (cookie token, CSRF token). Only a hash of the cookie token is stored."""
        now = self.clock()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.expires_at < now))
            session.add(m.ConsoleSession(token_hash=self._token_hash(token), helper_id=helper_id, csrf_token=csrf,
                                         created_at=now, expires_at=now + timedelta(minutes=minutes)))
        return token, csrf

    def session(self, token: str, minutes: int) -> Optional[tuple]:
        """(HelperInfo, CSRF token) for a valid session; the session is extended (sliding expiry)."""
        if not token or len(token) > 100:
            return None
        now = self.clock()
        token_hash = self._token_hash(token)
        with Session(self.engine) as session:
            row = session.get(m.ConsoleSession, token_hash)
            if row is None or row.expires_at <= now:
                return None
            helper = session.get(m.Helper, row.helper_id)
            if helper is None or not helper.active:
                return None
            found = self._helper_info(session, helper), row.csrf_token
            new_expiry = now + timedelta(minutes=minutes)
            if (new_expiry - row.expires_at).total_seconds() > 60:  # sliding expiry, written at most once a minute
                session.execute(update(m.ConsoleSession).where(m.ConsoleSession.token_hash == token_hash)
                                .values(expires_at=new_expiry).execution_options(synchronize_session=False))
                session.commit()
            return found

    def end_session(self, token: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.token_hash == self._token_hash(token)))
