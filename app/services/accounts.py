"""Users, guilds, memberships and API tokens (only SHA-256 hashes are stored)."""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from app.extensions import db
from app.models.base import utcnow
from app.models.guild import Guild, GuildMember
from app.models.user import ApiToken, PageSession, User
from app.services.errors import InvalidInput, NotFound

TOKEN_PREFIX = "gn_"
# last_used_at is stamped at most this often: stamping on every request would make all
# concurrent requests with one token queue on that token's row lock.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
NAME_LENGTH = 100  # guilds.name and users.display_name


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_user(discord_user_id: str) -> User:
    """The user with this Discord id, created when new."""
    user = db.session.scalar(select(User).filter_by(discord_user_id=discord_user_id))
    if user is None:
        user = User(discord_user_id=discord_user_id, display_name=discord_user_id)
        db.session.add(user)
        db.session.flush()
    return user


def ensure_guild(discord_guild_id: str) -> Guild:
    """The guild with this Discord id, created when new."""
    guild = db.session.scalar(select(Guild).filter_by(discord_guild_id=discord_guild_id))
    if guild is None:
        guild = Guild(discord_guild_id=discord_guild_id, name=discord_guild_id)
        db.session.add(guild)
        db.session.flush()
    return guild


def ensure_membership(guild: Guild, user: User) -> None:
    """Make the user a member of the guild (idempotent)."""
    exists = db.session.scalar(select(GuildMember.id).filter_by(guild_id=guild.id, user_id=user.id))
    if exists is None:
        db.session.add(GuildMember(guild_id=guild.id, user_id=user.id))
        db.session.flush()


def create_token(
    discord_user_id: str, discord_guild_ids: list[str], name: str, display_name: str | None = None
) -> str:
    """Create user, guilds and memberships as needed; return a new token (shown once)."""
    if display_name is not None and not 0 < len(display_name.strip()) <= NAME_LENGTH:
        raise InvalidInput(f"A display name has 1 to {NAME_LENGTH} characters")
    user = ensure_user(discord_user_id)
    if display_name is not None:
        user.display_name = display_name.strip()
    for discord_guild_id in discord_guild_ids:
        ensure_membership(ensure_guild(discord_guild_id), user)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name=name))
    db.session.flush()
    return token


def _live_token(token_hash: str) -> ApiToken | None:
    return db.session.scalar(select(ApiToken).filter_by(token_hash=token_hash, revoked_at=None))


def authenticate_token(token: str) -> User | None:
    """The user behind a live token, stamping its last use; None for unknown or revoked."""
    api_token = _live_token(hash_token(token))
    if api_token is None:
        return None
    now, last_used = utcnow(), api_token.last_used_at
    if last_used is None or now - _aware(last_used) > LAST_USED_RESOLUTION:
        api_token.last_used_at = now
    return db.session.get(User, api_token.user_id)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; they are stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def guild_ids_of(user: User) -> list:
    """Internal ids of the guilds the user belongs to."""
    return list(db.session.scalars(select(GuildMember.guild_id).filter_by(user_id=user.id)))


def guilds_of(user_id) -> list[Guild]:
    """The guilds the user belongs to, by name."""
    return list(
        db.session.scalars(
            select(Guild)
            .join(GuildMember, GuildMember.guild_id == Guild.id)
            .where(GuildMember.user_id == user_id)
            .order_by(Guild.name, Guild.discord_guild_id)
        )
    )


def set_guild_webhook(discord_guild_id: str, url: str) -> Guild:
    """Set (or, with an empty URL, clear) the guild's Discord webhook; it is enabled again."""
    guild = ensure_guild(discord_guild_id)
    guild.webhook_url = url or None
    guild.webhook_disabled_at = None
    db.session.flush()
    return guild


def find_user(discord_user_id: str) -> User:
    """The user with this Discord id; NotFound when there is none."""
    user = db.session.scalar(select(User).filter_by(discord_user_id=discord_user_id))
    if user is None:
        raise NotFound(f"No user with Discord id {discord_user_id}")
    return user


def find_guild(discord_guild_id: str) -> Guild:
    """The guild with this Discord id; NotFound when there is none."""
    guild = db.session.scalar(select(Guild).filter_by(discord_guild_id=discord_guild_id))
    if guild is None:
        raise NotFound(f"No guild with Discord id {discord_guild_id}")
    return guild


def set_guild_name(discord_guild_id: str, name: str) -> Guild:
    """Name a known guild as people know it (the pages show it)."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(f"A guild name has 1 to {NAME_LENGTH} characters")
    guild = find_guild(discord_guild_id)
    guild.name = name
    db.session.flush()
    return guild


def tokens_of(discord_user_id: str) -> list[ApiToken]:
    """The user's tokens, oldest first (hashes only: the tokens themselves are never kept)."""
    user = find_user(discord_user_id)
    query = select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.created_at, ApiToken.id)
    return list(db.session.scalars(query))


def revoke_tokens(discord_user_id: str, name: str | None = None) -> list[ApiToken]:
    """Revoke the user's live tokens (only those named ``name`` if given); end their sessions."""
    live = [
        token
        for token in tokens_of(discord_user_id)
        if token.revoked_at is None and (name is None or token.name == name)
    ]
    now = utcnow()
    for token in live:
        token.revoked_at = now
    if live:
        ids = [token.id for token in live]
        db.session.execute(delete(PageSession).where(PageSession.token_id.in_(ids)))
    db.session.flush()
    return live


def remove_member(discord_guild_id: str, discord_user_id: str) -> bool:
    """Take the user out of the guild (its games hosted there stay); False if not a member."""
    guild, user = find_guild(discord_guild_id), find_user(discord_user_id)
    result = db.session.execute(
        delete(GuildMember).where(GuildMember.guild_id == guild.id, GuildMember.user_id == user.id)
    )
    return result.rowcount > 0


@dataclass(frozen=True)
class AccountRows:
    """What went with a guild or a user, besides their games."""

    memberships: int
    tokens: int = 0
    page_sessions: int = 0


def delete_guild(guild: Guild) -> AccountRows:
    """Delete a guild whose games are gone, with its memberships."""
    memberships = _deleted(delete(GuildMember).where(GuildMember.guild_id == guild.id))
    db.session.delete(guild)
    db.session.flush()
    return AccountRows(memberships)


def delete_user(user: User) -> AccountRows:
    """Delete a user whose hosted games are gone, with tokens, page sessions and memberships."""
    tokens = select(ApiToken.id).where(ApiToken.user_id == user.id).scalar_subquery()
    rows = AccountRows(
        page_sessions=_deleted(delete(PageSession).where(PageSession.token_id.in_(tokens))),
        tokens=_deleted(delete(ApiToken).where(ApiToken.user_id == user.id)),
        memberships=_deleted(delete(GuildMember).where(GuildMember.user_id == user.id)),
    )
    db.session.delete(user)
    db.session.flush()
    return rows


def _deleted(statement) -> int:
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
