"""The authenticated games API: /api/v1/games (tag ``games``)."""

import uuid

from flask import url_for
from werkzeug.datastructures import FileStorage

from app.discord.embeds import game_message
from app.games import schemas
from app.games.auth import SECURITY, authenticate_request, current_user_id
from app.games.body import BODY, BodyBlueprint, text_alternatives
from app.models.game_session import IMAGE_SLOTS
from app.presenters import image_urls, present_game, present_games
from app.services import games, operations
from app.transactions import rollback_unfinished, run_in_transaction

bp = BodyBlueprint(
    "games", __name__, url_prefix="/api/v1/games", description="Game sessions of your guilds."
)
bp.before_request(authenticate_request)
bp.teardown_request(rollback_unfinished)

CREATE_EXAMPLE = {
    "guild_id": schemas.EXAMPLE_GUILD_ID,
    "title": "Catan night",
    "scheduled_at": "2030-05-01T19:00:00+02:00",
    "expected_duration_minutes": 120,
}


def uploaded_files(args: dict) -> dict[str, bytes]:
    """The bytes of each uploaded image, by slot; the file fields leave ``args``."""
    files: dict[str, FileStorage | None] = {slot: args.pop(slot, None) for slot in IMAGE_SLOTS}
    return {slot: upload.read() for slot, upload in files.items() if upload is not None}


def _created(game_json: dict):
    location = url_for("games.game", game_id=game_json["id"])
    return game_json, 201, {"Location": location}


@bp.route("", methods=["POST"])
@bp.arguments(schemas.GameCreateSchema, location=BODY)
@bp.response(201, schemas.GameSchema)
@bp.doc(security=SECURITY, **text_alternatives(schemas.GameFieldsSchema, CREATE_EXAMPLE))
def create_game(args: dict):
    """Schedule a game in one of your guilds; you host it."""
    files = uploaded_files(args)
    return _created(operations.create_game(current_user_id(), args, files))


@bp.route("", methods=["GET"])
@bp.arguments(schemas.GameListQuerySchema, location="query")
@bp.response(200, schemas.GameListSchema)
@bp.doc(security=SECURITY)
def list_games(query: dict):
    """The games of your guilds, soonest first, with the number of matches in ``total``."""
    user_id = current_user_id()

    def work() -> dict:
        page, total = games.list_games(
            user_id, query.get("guild_id"), query.get("status"), query["limit"], query["offset"]
        )
        return {"games": present_games(page), "total": total}

    return run_in_transaction(work)


@bp.route("/<uuid:game_id>", methods=["GET"], endpoint="game")
@bp.response(200, schemas.GameSchema)
@bp.doc(security=SECURITY)
def get_game(game_id: uuid.UUID):
    """One game of your guilds."""
    user_id = current_user_id()
    return run_in_transaction(lambda: present_game(games.get_game(user_id, game_id)))


@bp.route("/<uuid:game_id>", methods=["PUT"])
@bp.arguments(schemas.GameUpdateSchema, location=BODY)
@bp.response(200, schemas.GameSchema)
@bp.doc(security=SECURITY, **text_alternatives(schemas.GameUpdateFieldsSchema))
def update_game(args: dict, game_id: uuid.UUID):
    """Change your game: any field, replace an image (upload) or remove one (flag)."""
    removals = tuple(slot for slot in IMAGE_SLOTS if args.pop(f"remove_{slot}", False))
    files = uploaded_files(args)
    return operations.update_game(current_user_id(), game_id, args, files, removals)


@bp.route("/<uuid:game_id>", methods=["DELETE"])
@bp.response(204)
@bp.doc(security=SECURITY)
def delete_game(game_id: uuid.UUID):
    """Delete your game; its images are released."""
    operations.delete_game(current_user_id(), game_id)


@bp.route("/<uuid:game_id>/clone", methods=["POST"])
@bp.arguments(schemas.GameCloneSchema, location=BODY, required=False)
@bp.response(201, schemas.GameSchema)
@bp.doc(security=SECURITY, **text_alternatives(schemas.GameCloneSchema))
def clone_game(args: dict, game_id: uuid.UUID):
    """Copy a game of your guilds, hosted by you; the copy shares its images."""
    clone = operations.clone_game(current_user_id(), game_id, args.get("scheduled_at"))
    return _created(clone)


@bp.route("/<uuid:game_id>/discord-message", methods=["GET"])
@bp.response(200, schemas.DiscordMessageSchema)
@bp.doc(security=SECURITY)
def discord_message(game_id: uuid.UUID):
    """The Discord message announcing the game: ``{"content": ..., "embeds": [embed]}``."""
    user_id = current_user_id()

    def work() -> dict:
        game = games.get_game(user_id, game_id)
        urls = image_urls([game])
        return game_message(game, urls.get(game.thumbnail_id), urls.get(game.banner_image_id))

    return run_in_transaction(work)
