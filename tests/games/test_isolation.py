"""Guild isolation and authentication: through the API, and on PostgreSQL through RLS alone."""

import uuid

import pytest
from sqlalchemy import delete, select, true, update
from sqlalchemy.exc import ProgrammingError

from app.extensions import db
from app.guild_context import set_guild_context
from app.models.game_session import GameSession
from app.services import games as games_service
from tests.games.conftest import GREEN, OTHER_GUILD, RED, WHEN, game_row, image_counts


def _guild_id(database, discord_guild_id: str):
    return database.scalar("SELECT id FROM guilds WHERE discord_guild_id = :d", d=discord_guild_id)


def _refused_everywhere(outsider_api, game_id) -> None:
    """Every route on someone else's game is 404 JSON, exactly as for a game that never was."""
    responses = [
        outsider_api.get(f"/{game_id}"),
        outsider_api.update(game_id, title="Mine now", files={"thumbnail": GREEN}),
        outsider_api.delete(game_id),
        outsider_api.clone(game_id),
        outsider_api.get(f"/{game_id}/discord-message"),
    ]
    assert [r.status_code for r in responses] == [404] * 5
    assert {r.get_json()["message"] for r in responses} == {"Game not found"}
    assert outsider_api.get("").get_json() == {"games": [], "total": 0}
    assert outsider_api.get("?guild_id=guild-a").get_json() == {"games": [], "total": 0}


@pytest.mark.sqlite_too
def test_another_guild_gets_404_everywhere_and_never_sees_the_game(api, outsider_api, database):
    game = api.create(files={"thumbnail": RED}).get_json()
    _refused_everywhere(outsider_api, game["id"])
    assert game_row(database, game["id"])[0].title == "Catan night"
    assert database.scalar("SELECT count(*) FROM game_sessions") == 1
    assert list(image_counts(database).values()) == [1]


def test_rls_alone_hides_other_guilds_when_the_service_filter_is_gone(
    api, outsider_api, database, monkeypatch
):
    game = api.create(files={"thumbnail": RED}).get_json()
    monkeypatch.setattr(games_service, "_membership_filter", lambda user_id: true())
    _refused_everywhere(outsider_api, game["id"])
    assert game_row(database, game["id"])[0].title == "Catan night"
    assert database.scalar("SELECT count(*) FROM game_sessions") == 1
    # With the filter gone, the host still sees the game: RLS, not luck, hid it above.
    assert api.get(f"/{game['id']}").status_code == 200


def test_rls_hides_other_guild_rows_from_unfiltered_queries_and_writes(app, api, database):
    mine = api.create(title="A").get_json()
    other = uuid.uuid4()
    database.create_token("b-host", OTHER_GUILD)
    database.execute(
        "INSERT INTO game_sessions (id, guild_id, host_id, title, scheduled_at, status) "
        "SELECT :id, g.id, u.id, 'B', now(), 'SCHEDULED' FROM guilds g, users u "
        "WHERE g.discord_guild_id = :g AND u.discord_user_id = 'b-host'",
        id=other,
        g=OTHER_GUILD,
    )
    session = db.session()
    set_guild_context(session, [_guild_id(database, "guild-a")])
    assert [str(i) for i in session.scalars(select(GameSession.id))] == [mine["id"]]
    assert session.get(GameSession, other) is None
    changed = session.execute(
        update(GameSession)
        .where(GameSession.id == other)
        .values(title="hijacked")
        .execution_options(synchronize_session=False)
    )
    removed = session.execute(
        delete(GameSession)
        .where(GameSession.id == other)
        .execution_options(synchronize_session=False)
    )
    assert (changed.rowcount, removed.rowcount) == (0, 0)
    session.commit()
    assert database.scalar("SELECT title FROM game_sessions WHERE id = :id", id=other) == "B"


def test_rls_refuses_writing_a_game_into_a_guild_outside_the_context(app, api, database):
    database.create_token("b-host", OTHER_GUILD)
    guild_b = _guild_id(database, OTHER_GUILD)
    host = database.scalar("SELECT id FROM users WHERE discord_user_id = 'b-host'")
    session = db.session()
    set_guild_context(session, [_guild_id(database, "guild-a")])
    session.add(GameSession(guild_id=guild_b, host_id=host, title="x", scheduled_at=WHEN))
    with pytest.raises(ProgrammingError, match="row-level security"):
        session.flush()
    session.rollback()
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0


@pytest.mark.sqlite_too
def test_creating_in_a_guild_you_are_not_in_is_403(api, database):
    for guild in (OTHER_GUILD, "no-such-guild"):
        database.create_token("someone", OTHER_GUILD)
        response = api.create(guild_id=guild, files={"thumbnail": RED})
        assert response.status_code == 403
        assert "guild_id" in response.get_json()["errors"]
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    assert image_counts(database) == {}


@pytest.mark.sqlite_too
def test_moving_a_game_to_a_guild_you_are_not_in_is_403(api, database):
    database.create_token("someone", OTHER_GUILD)
    game = api.create().get_json()
    response = api.update(game["id"], guild_id=OTHER_GUILD)
    assert response.status_code == 403
    assert (
        database.scalar(
            "SELECT g.discord_guild_id FROM game_sessions s JOIN guilds g ON g.id = s.guild_id"
        )
        == "guild-a"
    )


@pytest.mark.sqlite_too
def test_a_member_who_is_not_the_host_gets_403_on_put_and_delete(api, member_api, database):
    game = api.create(files={"thumbnail": RED}).get_json()
    assert member_api.update(game["id"], title="Mine").status_code == 403
    assert member_api.update(game["id"], remove_thumbnail="true").status_code == 403
    response = member_api.delete(game["id"])
    assert response.status_code == 403 and response.get_json()["message"]
    assert game_row(database, game["id"])[0].title == "Catan night"
    assert list(image_counts(database).values()) == [1]
    # Members may still read and clone; the clone is theirs.
    assert member_api.get(f"/{game['id']}").status_code == 200
    clone = member_api.clone(game["id"]).get_json()
    assert clone["host_id"] == "member-user"
    assert member_api.delete(clone["id"]).status_code == 204


@pytest.mark.sqlite_too
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer gn_not-a-token",
        "Basic dXNlcjpwYXNz",
        "Token abc",
    ],
)
def test_a_missing_or_invalid_token_is_401_with_www_authenticate(client, api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    game_id = api.create().get_json()["id"]
    for method, path in [
        ("GET", ""),
        ("POST", ""),
        ("GET", f"/{game_id}"),
        ("PUT", f"/{game_id}"),
        ("DELETE", f"/{game_id}"),
        ("POST", f"/{game_id}/clone"),
        ("GET", f"/{game_id}/discord-message"),
    ]:
        response = client.open(f"/api/v1/games{path}", method=method, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["message"]


@pytest.mark.sqlite_too
def test_a_revoked_token_is_401(api, database):
    database.execute("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP")
    response = api.get("")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.sqlite_too
def test_unknown_and_malformed_game_ids_are_404_json(api):
    for path in (f"/{uuid.uuid4()}", "/not-a-uuid", f"/{uuid.uuid4()}/clone"):
        response = (
            api.get(path)
            if "clone" not in path
            else api.client.post(f"/api/v1/games{path}", headers=api.headers)
        )
        assert response.status_code == 404 and response.get_json()["message"]


@pytest.mark.sqlite_too
def test_a_wrong_method_is_405_json(api):
    response = api.client.patch("/api/v1/games", headers=api.headers)
    assert response.status_code == 405 and response.get_json()["message"]
