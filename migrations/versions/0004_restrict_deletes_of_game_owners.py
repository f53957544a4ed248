"""refuse deletes of guilds and users that still have games

A game holds references to images: deleting it must release them (SPEC §2). Revision 0001
let a plain ``DELETE FROM guilds`` or ``DELETE FROM users`` cascade into game_sessions,
which skipped the release and broke the reference counts. The foreign keys from
game_sessions to guilds and users become ``ON DELETE RESTRICT``: the database refuses such
a delete while games remain, and the operator's ``guilds delete`` / ``users delete`` delete
the games first, the way the API does. PostgreSQL checks the foreign keys whatever the
connection; SQLite only when a connection turns ``PRAGMA foreign_keys`` on, so on SQLite
two BEFORE DELETE triggers refuse the same deletes on every connection.

Only constraints change: nothing to lose either way.

Revision ID: 0004_restrict_owner_deletes
Revises: 0003_discord_outbox
Create Date: 2026-12-01

"""

from alembic import op

revision = "0004_restrict_owner_deletes"
down_revision = "0003_discord_outbox"
branch_labels = None
depends_on = None

# (column of game_sessions, referred table, what the refusal tells the operator)
OWNERS = [
    ("guild_id", "guilds", "the guild still has games: run flask guilds delete"),
    ("host_id", "users", "the user still hosts games: run flask users delete"),
]


def _set_ondelete(action: str) -> None:
    with op.batch_alter_table("game_sessions") as batch:
        for column, table, _ in OWNERS:
            name = f"fk_game_sessions_{column}_{table}"
            batch.drop_constraint(name, type_="foreignkey")
            batch.create_foreign_key(name, table, [column], ["id"], ondelete=action)


def upgrade():
    _set_ondelete("RESTRICT")
    if op.get_bind().dialect.name == "sqlite":
        for column, table, message in OWNERS:
            op.execute(
                f"CREATE TRIGGER {table}_keep_their_games BEFORE DELETE ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM game_sessions WHERE {column} = OLD.id) "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for _, table, _ in OWNERS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_keep_their_games")
    _set_ondelete("CASCADE")
