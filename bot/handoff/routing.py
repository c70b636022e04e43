"""Which queue a ticket goes to: by the matter's configured queue, hall location or department."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Tuple

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from knowledge import models as catalog_models

from .config import HandoffConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatterFacts:
    code: str
    name: str
    location_code: Optional[str]
    department_code: Optional[str]
    flags: Tuple[str, ...]


class QueueRouter:
    """Reads the catalog's matter table (read-only) to route by location/department."""

    def __init__(self, engine: Engine, config: HandoffConfig):
        self.engine = engine
        self.config = config

    def matter(self, code: Optional[str]) -> Optional[MatterFacts]:
        if not code:
            return None
        try:
            with Session(self.engine) as session:
                row = session.execute(
                    select(catalog_models.Matter.code, catalog_models.Matter.name,
                           catalog_models.Matter.location_code, catalog_models.Matter.department_code,
                           catalog_models.Matter.flags)
                    .where(catalog_models.Matter.code == code)).first()
        except SQLAlchemyError as exc:  # no catalog in this database: route by the default
            logger.warning("cannot read matter %s from the catalog: %s", code, exc.__class__.__name__)
            return None
        if row is None:
            return None
        return MatterFacts(row[0], row[1], row[2], row[3], tuple(row[4] or ()))

    def queue_for(self, matter: Optional[MatterFacts]) -> str:
        config = self.config
        if matter is None:
            return config.default_queue
        if matter.code in config.matters:
            return config.matters[matter.code]
        for queue in config.queues:
            if matter.location_code and matter.location_code in queue.locations:
                return queue.code
        for queue in config.queues:
            if matter.department_code and matter.department_code in queue.departments:
                return queue.code
        return config.default_queue
