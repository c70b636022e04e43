"""SQL tables of the matter catalog (SQLAlchemy 1.4, 2.0-style declarative)."""
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Text
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class Hall(Base):
    __tablename__ = "hall"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    city = Column(String(100), nullable=False)
    address = Column(Text)
    phone = Column(String(50))
    hours = Column(Text, nullable=False)
    online_portal = Column(Text)
    help_location_code = Column(String(40), ForeignKey("location.code"))
    complaint_location_code = Column(String(40), ForeignKey("location.code"))
    complaint_reply_days = Column(Integer)
    source = Column(Text)
    as_of = Column(String(20))


class Department(Base):
    __tablename__ = "department"
    code = Column(String(40), primary_key=True)
    name = Column(String(200), nullable=False)
    phone = Column(String(50))


class Location(Base):
    __tablename__ = "location"
    code = Column(String(40), primary_key=True)
    floor = Column(String(20), nullable=False)
    zone = Column(String(200), nullable=False)
    windows = Column(String(100))


class Matter(Base):
    __tablename__ = "matter"
    code = Column(String(40), primary_key=True)
    name = Column(String(200), nullable=False)
    national_code = Column(String(40))
    type = Column(String(40), nullable=False)
    department_code = Column(String(40), ForeignKey("department.code"), nullable=False)
    basis = Column(JSON, nullable=False)
    conditions = Column(JSON, nullable=False)
    legal_days = Column(Integer)
    legal_calendar_days = Column(Boolean, nullable=False, default=False)  # law counts natural days
    committed_days = Column(Integer)
    time_note = Column(Text)
    fee_free = Column(Boolean)
    fee_amount = Column(Text)
    fee_basis = Column(Text)
    location_code = Column(String(40), ForeignKey("location.code"))
    hours = Column(Text)
    phone = Column(String(50))
    online_available = Column(Boolean)
    full_online = Column(Boolean)
    online_url = Column(Text)
    online_note = Column(Text)
    visits = Column(Integer)
    flags = Column(JSON, nullable=False)
    source_refs = Column(JSON, nullable=False)
    source_note = Column(Text)
    as_of = Column(String(20), nullable=False)
    source_file = Column(String(200), nullable=False)

    department = relationship("Department")
    location = relationship("Location")
    situations = relationship("Situation", order_by="Situation.position", cascade="all, delete-orphan")
    materials = relationship("Material", order_by="Material.position", cascade="all, delete-orphan")
    steps = relationship("Step", order_by="Step.position", cascade="all, delete-orphan")


class Situation(Base):
    __tablename__ = "situation"
    id = Column(Integer, primary_key=True)
    matter_code = Column(String(40), ForeignKey("matter.code"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    code = Column(String(40), nullable=False)
    question = Column(Text, nullable=False)
    options = Column(JSON, nullable=False)  # [{"code": ..., "label": ...}]


class Material(Base):
    __tablename__ = "material"
    id = Column(Integer, primary_key=True)
    matter_code = Column(String(40), ForeignKey("matter.code"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    name = Column(Text, nullable=False)
    original = Column(Integer, nullable=False)
    copies = Column(Integer, nullable=False)
    required = Column(Boolean, nullable=False)
    when = Column(JSON)  # {"situation_code": "option_code", ...}
    when_text = Column(Text)
    note = Column(Text)
    issued_by = Column(Text)
    form_url = Column(Text)


class Step(Base):
    __tablename__ = "step"
    id = Column(Integer, primary_key=True)
    matter_code = Column(String(40), ForeignKey("matter.code"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    name = Column(String(100), nullable=False)
    detail = Column(Text)


class Term(Base):
    """A name, alias or keyword by which citizens refer to a matter or a bundle."""

    __tablename__ = "term"
    id = Column(Integer, primary_key=True)
    target_kind = Column(String(10), nullable=False)  # "matter" | "bundle"
    target_code = Column(String(40), nullable=False, index=True)
    kind = Column(String(10), nullable=False)  # "name" | "alias" | "keyword"
    text = Column(String(200), nullable=False)


class Relation(Base):
    __tablename__ = "relation"
    id = Column(Integer, primary_key=True)
    matter_code = Column(String(40), ForeignKey("matter.code"), nullable=False, index=True)
    related_code = Column(String(40), ForeignKey("matter.code"), nullable=False)
    position = Column(Integer, nullable=False)


class Bundle(Base):
    __tablename__ = "bundle"
    code = Column(String(40), primary_key=True)
    name = Column(String(200), nullable=False)
    intro = Column(Text)
    location_code = Column(String(40), ForeignKey("location.code"))
    time_limit_days = Column(Integer)
    source_refs = Column(JSON, nullable=False)
    as_of = Column(String(20), nullable=False)


class BundleMember(Base):
    __tablename__ = "bundle_member"
    id = Column(Integer, primary_key=True)
    bundle_code = Column(String(40), ForeignKey("bundle.code"), nullable=False, index=True)
    matter_code = Column(String(40), ForeignKey("matter.code"), nullable=False)
    position = Column(Integer, nullable=False)


class BundleMaterial(Base):
    """One item of a bundle's merged material list: shared items once, with the matters needing them."""

    __tablename__ = "bundle_material"
    id = Column(Integer, primary_key=True)
    bundle_code = Column(String(40), ForeignKey("bundle.code"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    name = Column(Text, nullable=False)
    original = Column(Integer, nullable=False)
    copies = Column(Integer, nullable=False)
    matters = Column(JSON, nullable=False)
    note = Column(Text)
