"""Per-transaction guild context for PostgreSQL row-level security on ``game_sessions``.

Every transaction an ORM session begins on PostgreSQL starts with a bound
``set_config('app.current_guild_ids', ..., true)``: transaction-local, so a pooled
connection never carries one request's guilds into another. No context means no rows.
"""

from collections.abc import Iterable

from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

GUILD_IDS_KEY = "gamenight.guild_ids"
MAINTENANCE_KEY = "gamenight.maintenance"


def _settings(session: Session) -> dict[str, str]:
    ids = session.info.get(GUILD_IDS_KEY) or ()
    settings = {"app.current_guild_ids": ",".join(str(guild_id) for guild_id in ids)}
    if session.info.get(MAINTENANCE_KEY):
        settings["app.maintenance"] = "on"
    return settings


def _apply(connection: Connection, settings: dict[str, str]) -> None:
    for name, value in settings.items():
        connection.execute(select(func.set_config(name, value, True)))


@event.listens_for(Session, "after_begin")
def _apply_guild_context(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    if connection.dialect.name == "postgresql":
        _apply(connection, _settings(session))


def set_guild_context(session: Session | scoped_session, guild_ids: Iterable) -> None:
    """Limit this session's view of game_sessions to these guilds, from now on."""
    session = _plain(session)
    session.info[GUILD_IDS_KEY] = tuple(guild_ids)
    _reapply(session)


def set_maintenance_context(session: Session | scoped_session) -> None:
    """Let the schema owner see every guild's games (operator commands such as images verify)."""
    session = _plain(session)
    session.info[MAINTENANCE_KEY] = True
    _reapply(session)


def _plain(session: Session | scoped_session) -> Session:
    """Accept ``db.session`` (a scoped_session) as well as the Session it proxies."""
    return session() if isinstance(session, scoped_session) else session


def _reapply(session: Session) -> None:
    if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        _apply(session.connection(), _settings(session))
