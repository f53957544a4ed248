"""The games service called directly: flush-only functions, one commit at the boundary."""

import datetime as dt
import hashlib
import threading
import uuid

import pytest

from app.extensions import db
from app.guild_context import set_guild_context
from app.services import games
from app.services.errors import Forbidden, InvalidInput, NotFound
from app.services.uploads import SanitisedImage
from app.transactions import run_in_transaction
from tests.games.conftest import BLUE, GREEN, OTHER_GUILD, RED, game_row, image_counts

WHEN = dt.datetime(2030, 5, 1, 19, tzinfo=dt.UTC)
FIELDS = {"guild_id": "guild-a", "title": "Service night", "scheduled_at": WHEN}


def png(data: bytes) -> SanitisedImage:
    return SanitisedImage(data, "image/png")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def as_user(database, discord_user_id: str, *guilds: str) -> uuid.UUID:
    """Create the user (with guilds) and set the session's RLS context as a request would."""
    database.create_token(discord_user_id, *guilds)
    user_id = uuid.UUID(
        str(database.scalar("SELECT id FROM users WHERE discord_user_id = :u", u=discord_user_id))
    )
    guild_ids = [
        uuid.UUID(str(row[0]))
        for row in database.rows(
            "SELECT guild_id FROM guild_members m JOIN users u ON u.id = m.user_id "
            "WHERE u.discord_user_id = :u",
            u=discord_user_id,
        )
    ]
    set_guild_context(db.session(), guild_ids)
    return user_id


@pytest.mark.sqlite_too
def test_services_flush_and_the_boundary_commits_once(app, database):
    host = as_user(database, "host", "guild-a")
    game = games.create_game(host, FIELDS, {"thumbnail": png(RED)})
    assert game.id is not None
    db.session.rollback()  # nothing was committed: the service only flushed
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    assert image_counts(database) == {}
    game_id = run_in_transaction(
        lambda: games.create_game(host, FIELDS, {"thumbnail": png(RED)}).id
    )
    assert game_row(database, game_id)[0].title == "Service night"
    assert image_counts(database) == {sha(RED): 1}


@pytest.mark.sqlite_too
def test_a_failure_inside_the_transaction_rolls_everything_back(app, database):
    host = as_user(database, "host", "guild-a")

    def work():
        games.create_game(host, FIELDS, {"thumbnail": png(RED), "image": png(GREEN)})
        raise InvalidInput("late failure")

    with pytest.raises(InvalidInput):
        run_in_transaction(work)
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
    assert image_counts(database) == {}


@pytest.mark.sqlite_too
def test_service_lifecycle_counts_references_exactly(app, database):
    host = as_user(database, "host", "guild-a")
    game_id = run_in_transaction(
        lambda: games.create_game(host, FIELDS, {"thumbnail": png(RED), "image": png(GREEN)}).id
    )
    clone_id = run_in_transaction(lambda: games.clone_game(host, game_id).id)
    assert image_counts(database) == {sha(RED): 2, sha(GREEN): 2}
    run_in_transaction(
        lambda: games.update_game(host, game_id, {}, {"thumbnail": png(BLUE)}, removals=("image",))
    )
    assert image_counts(database) == {sha(RED): 1, sha(GREEN): 1, sha(BLUE): 1}
    run_in_transaction(lambda: games.delete_game(host, clone_id))
    assert image_counts(database) == {sha(BLUE): 1}
    run_in_transaction(lambda: games.delete_game(host, game_id))
    assert image_counts(database) == {}


@pytest.mark.sqlite_too
def test_service_checks_membership_and_host_itself(app, database):
    host = as_user(database, "host", "guild-a")
    game_id = run_in_transaction(lambda: games.create_game(host, FIELDS).id)
    outsider = as_user(database, "outsider", OTHER_GUILD)
    for call in (
        lambda: games.get_game(outsider, game_id),
        lambda: games.update_game(outsider, game_id, {"title": "x"}),
        lambda: games.delete_game(outsider, game_id),
        lambda: games.clone_game(outsider, game_id),
    ):
        with pytest.raises(NotFound):
            run_in_transaction(call)
    assert games.list_games(outsider) == ([], 0)
    with pytest.raises(Forbidden):
        run_in_transaction(lambda: games.create_game(outsider, FIELDS))
    member = as_user(database, "member", "guild-a")
    with pytest.raises(Forbidden):
        run_in_transaction(lambda: games.update_game(member, game_id, {"title": "x"}))
    with pytest.raises(Forbidden):
        run_in_transaction(lambda: games.delete_game(member, game_id))
    assert game_row(database, game_id)[0].title == "Service night"


@pytest.mark.sqlite_too
def test_service_refuses_naive_times_and_contradictions(app, database):
    host = as_user(database, "host", "guild-a")
    naive = {**FIELDS, "scheduled_at": dt.datetime(2030, 5, 1, 19)}
    with pytest.raises(InvalidInput) as refused:
        run_in_transaction(lambda: games.create_game(host, naive))
    assert "scheduled_at" in refused.value.errors
    game_id = run_in_transaction(lambda: games.create_game(host, FIELDS).id)
    with pytest.raises(InvalidInput) as refused:
        run_in_transaction(
            lambda: games.update_game(
                host, game_id, {}, {"thumbnail": png(RED)}, removals=("thumbnail",)
            )
        )
    assert "thumbnail" in refused.value.errors
    with pytest.raises(InvalidInput):
        run_in_transaction(lambda: games.update_game(host, game_id, {"title": None}))
    assert image_counts(database) == {}


def test_concurrent_swaps_of_shared_images_neither_deadlock_nor_drift(app, database, caplog):
    """Threads on real connections swap, clone and delete games sharing images, in all orders."""
    host = as_user(database, "host", "guild-a")
    guild_ids = list(db.session().info["gamenight.guild_ids"])
    pictures = [png(RED), png(GREEN), png(BLUE)]
    seed_ids = [
        run_in_transaction(
            lambda: (
                games.create_game(host, FIELDS, {"thumbnail": pictures[0], "image": pictures[1]}).id
            )
        )
        for _ in range(4)
    ]
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        with app.app_context():
            set_guild_context(db.session(), guild_ids)
            try:
                for i in range(12):
                    _one_change(host, seed_ids, pictures, n, i)
            except BaseException as e:  # noqa: BLE001  reported by the main thread
                failures.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    # Locks are taken in one order (game row, then images by hash): no deadlock to retry.
    assert [r.message for r in caplog.records if "retrying" in r.message] == []
    assert database.scalar("SELECT count(*) FROM game_sessions") == len(seed_ids)


def _one_change(host, seed_ids, pictures, n: int, i: int) -> None:
    game_id = seed_ids[(n + i) % len(seed_ids)]
    first, second = pictures[(n + i) % 3], pictures[(n + 2 * i + 1) % 3]
    if i % 4 == 3:
        clone_id = run_in_transaction(lambda: games.clone_game(host, game_id).id)
        run_in_transaction(lambda: games.delete_game(host, clone_id))
    else:
        run_in_transaction(
            lambda: games.update_game(
                host, game_id, {"title": f"t{n}.{i}"}, {"thumbnail": first, "image": second}
            )
        )
