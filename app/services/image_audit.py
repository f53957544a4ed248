"""Reconcile game_images with the game_sessions slots that reference them (``flask images``).

The image service knows nothing of who references an image; this module does. It checks the
invariant of SPEC §2 (each row's reference_count equals the number of thumbnail and banner
slots pointing at it, and no row counts zero) and repairs it, set-based, in SQL.
"""

import uuid
from dataclasses import dataclass, field

from sqlalchemy import case, exists, func, or_, select, text, update
from sqlalchemy import delete as sql_delete

from app.extensions import db
from app.guild_context import set_maintenance_context
from app.models.game_image import GameImage
from app.models.game_session import IMAGE_SLOTS, GameSession

SLOTS = tuple(getattr(GameSession, column) for column in IMAGE_SLOTS.values())
CAN_SEE_ALL_GAMES = text(
    "SELECT r.rolsuper OR r.rolbypassrls OR pg_has_role(current_user, c.relowner, 'USAGE') "
    "FROM pg_class c JOIN pg_roles r ON r.rolname = current_user "
    "WHERE c.oid = 'game_sessions'::regclass"
)


class AuditRefused(Exception):
    """The connected role cannot see every game, so any count it made would be wrong."""


@dataclass(frozen=True)
class ImageStats:
    """What game_images holds and what deduplication saves."""

    rows: int
    bytes_stored: int
    references: int
    bytes_saved: int


@dataclass(frozen=True)
class CountProblem:
    """A row whose stored count differs from its slots, or that counts (or has) none."""

    image_id: uuid.UUID
    stored: int
    referenced: int

    @property
    def kind(self) -> str:
        if self.referenced == 0:
            return "orphan"
        return "zero count" if self.stored == 0 else "count drift"


@dataclass(frozen=True)
class DanglingReference:
    """A game slot pointing at an image row that does not exist."""

    game_id: uuid.UUID
    slot: str
    image_id: uuid.UUID


@dataclass
class AuditReport:
    """Everything verify found; empty lists mean the invariant holds."""

    images: int
    slots: int
    count_problems: list[CountProblem] = field(default_factory=list)
    dangling: list[DanglingReference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.count_problems and not self.dangling


@dataclass(frozen=True)
class RepairResult:
    """How many rows each repair step changed."""

    dangling_cleared: int
    orphans_deleted: int
    counts_corrected: int

    @property
    def changed(self) -> int:
        return self.dangling_cleared + self.orphans_deleted + self.counts_corrected


def enter_maintenance(snapshot: bool = False) -> None:
    """See every guild's games; refuse when row-level security would still hide some.

    With ``snapshot``, every later query of the transaction sees the same committed state.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    if snapshot:
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    set_maintenance_context(db.session())
    if not db.session.scalar(CAN_SEE_ALL_GAMES):
        user = db.session.scalar(text("SELECT current_user"))
        raise AuditRefused(
            f"connected as {user!r}, which is not the owner of game_sessions: row-level "
            "security hides games from it, so its counts would be wrong. "
            "Run this command with the schema owner's DATABASE_URL."
        )


def image_stats() -> ImageStats:
    """Rows, bytes stored, references, and bytes that deduplication avoids storing."""
    extra_references = case((GameImage.reference_count > 1, GameImage.reference_count - 1), else_=0)
    row = db.session.execute(
        select(
            func.count(GameImage.id),
            func.coalesce(func.sum(GameImage.byte_size), 0),
            func.coalesce(func.sum(GameImage.reference_count), 0),
            func.coalesce(func.sum(GameImage.byte_size * extra_references), 0),
        )
    ).one()
    return ImageStats(*(int(value) for value in row))


def _referenced_count():
    """Correlated count of the slots pointing at the outer game_images row."""
    counts = [select(func.count()).where(slot == GameImage.id).scalar_subquery() for slot in SLOTS]
    return counts[0] + counts[1]


def audit_images() -> AuditReport:
    """Compare every row's count with its slots and look for slots pointing at nothing."""
    referenced = _referenced_count()
    rows = db.session.execute(
        select(GameImage.id, GameImage.reference_count, referenced)
        .where(or_(GameImage.reference_count != referenced, referenced == 0))
        .order_by(GameImage.id)
    ).all()
    return AuditReport(
        images=db.session.scalar(select(func.count(GameImage.id))),
        slots=sum(db.session.scalar(select(func.count(slot))) for slot in SLOTS),
        count_problems=[CountProblem(*row) for row in rows],
        dangling=_dangling_references(),
    )


def _dangling_references() -> list[DanglingReference]:
    found = []
    for slot in SLOTS:
        rows = db.session.execute(
            select(GameSession.id, slot)
            .where(slot.is_not(None), ~exists().where(GameImage.id == slot))
            .order_by(GameSession.id)
        ).all()
        found += [DanglingReference(game_id, slot.key, image_id) for game_id, image_id in rows]
    return found


def repair_images() -> RepairResult:
    """Clear dangling slots, delete orphans, recount the rest; running it twice changes nothing."""
    _lock_out_writers()
    dangling = 0
    for slot in SLOTS:
        dangling += db.session.execute(
            update(GameSession)
            .where(slot.is_not(None), ~exists().where(GameImage.id == slot))
            .values({slot.key: None})
            .execution_options(synchronize_session=False)
        ).rowcount
    referenced = _referenced_count()
    orphans = db.session.execute(
        sql_delete(GameImage).where(referenced == 0).execution_options(synchronize_session=False)
    ).rowcount
    corrected = db.session.execute(
        update(GameImage)
        .where(GameImage.reference_count != referenced)
        .values(reference_count=referenced, updated_at=func.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    return RepairResult(dangling, orphans, corrected)


def _lock_out_writers() -> None:
    """Hold off stores and releases (readers go on) so the recount sees a still picture."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("LOCK TABLE game_sessions, game_images IN SHARE ROW EXCLUSIVE MODE")
        )
