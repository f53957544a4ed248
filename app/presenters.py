"""Games as the API shows them: Discord ids, UTC times and public image URLs."""

import datetime as dt
import uuid

from flask import current_app

from app.models.game_session import GameSession
from app.services.images import describe_images, public_image_url


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """The instant in UTC; SQLite hands back naive times, which were stored as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def image_urls(games: list[GameSession]) -> dict[uuid.UUID, str]:
    """The public URL of every image the games show, from one metadata query."""
    ids = [i for game in games for i in (game.thumbnail_id, game.banner_image_id)]
    base_url = current_app.config["BACKEND_URL"]
    return {
        image_id: public_image_url(base_url, image_id, info.mime_type)
        for image_id, info in describe_images(ids).items()
    }


def present_games(games: list[GameSession]) -> list[dict]:
    """The JSON form of each game."""
    urls = image_urls(games)
    return [_present(game, urls) for game in games]


def present_game(game: GameSession) -> dict:
    """The JSON form of one game."""
    return present_games([game])[0]


def _present(game: GameSession, urls: dict[uuid.UUID, str]) -> dict:
    return {
        "id": game.id,
        "guild_id": game.guild.discord_guild_id,
        "host_id": game.host.discord_user_id,
        "title": game.title,
        "description": game.description,
        "where": game.where,
        "signup_instructions": game.signup_instructions,
        "scheduled_at": utc(game.scheduled_at),
        "max_players": game.max_players,
        "expected_duration_minutes": game.expected_duration_minutes,
        "status": game.status,
        "thumbnail_id": game.thumbnail_id,
        "banner_image_id": game.banner_image_id,
        "has_thumbnail": game.thumbnail_id is not None,
        "has_image": game.banner_image_id is not None,
        "thumbnail_url": urls.get(game.thumbnail_id),
        "banner_url": urls.get(game.banner_image_id),
        "created_at": utc(game.created_at),
        "updated_at": utc(game.updated_at),
        # For the pages (the API's schema does not show them): people and guilds by name.
        "guild_name": game.guild.name or game.guild.discord_guild_id,
        "host_name": game.host.display_name or game.host.discord_user_id,
    }
