"""initial schema

The first schema: game sessions still embed their images in four columns.
On PostgreSQL, row-level security is enabled and forced on game_sessions.

Revision ID: 0001_initial_schema
Revises:
Create Date: 2026-11-23

"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial_schema"
down_revision = None
branch_labels = None
depends_on = None

# The guild context is a comma-separated list of guild UUIDs set per transaction by the app;
# unset or empty means no rows (NULLIF turns '' into NULL and ANY(NULL) matches nothing).
GUILD_CONTEXT = (
    "guild_id = ANY (string_to_array("
    "NULLIF(current_setting('app.current_guild_ids', true), ''), ',')::uuid[])"
)
# The schema owner sees every row only when it asks for it explicitly (migrations, images verify).
MAINTENANCE = "current_setting('app.maintenance', true) = 'on'"


def timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def upgrade():
    op.create_table(
        "guilds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("discord_guild_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("webhook_url", sa.String(2048), nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_guilds"),
        sa.UniqueConstraint("discord_guild_id", name="uq_guilds_discord_guild_id"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("discord_user_id", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("discord_user_id", name="uq_users_discord_user_id"),
    )
    op.create_table(
        "guild_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("guild_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guilds.id"], ondelete="CASCADE", name="fk_guild_members_guild_id_guilds"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_guild_members_user_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_guild_members"),
        sa.UniqueConstraint("guild_id", "user_id", name="uq_guild_members_guild_id"),
    )
    op.create_index("ix_guild_members_user_id", "guild_members", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_api_tokens_user_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "game_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("guild_id", sa.Uuid(), nullable=False),
        sa.Column("host_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("where", sa.String(500), nullable=True),
        sa.Column("signup_instructions", sa.Text(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_players", sa.Integer(), nullable=True),
        sa.Column("expected_duration_minutes", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=True),
        sa.Column("thumbnail_data", sa.LargeBinary(), nullable=True),
        sa.Column("thumbnail_mime_type", sa.String(32), nullable=True),
        sa.Column("image_data", sa.LargeBinary(), nullable=True),
        sa.Column("image_mime_type", sa.String(32), nullable=True),
        *timestamps(),
        sa.CheckConstraint(
            "status IN ('SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED')",
            name="ck_game_sessions_status_known",
        ),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guilds.id"], ondelete="CASCADE", name="fk_game_sessions_guild_id_guilds"
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["users.id"], ondelete="CASCADE", name="fk_game_sessions_host_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_game_sessions"),
    )
    op.create_index(
        "ix_game_sessions_guild_id_scheduled_at", "game_sessions", ["guild_id", "scheduled_at"]
    )
    op.create_index("ix_game_sessions_host_id", "game_sessions", ["host_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE game_sessions ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE game_sessions FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY game_sessions_guild_isolation ON game_sessions "
            f"USING ({GUILD_CONTEXT}) WITH CHECK ({GUILD_CONTEXT})"
        )
        op.execute(
            f"CREATE POLICY game_sessions_owner_maintenance ON game_sessions TO CURRENT_USER "
            f"USING ({MAINTENANCE}) WITH CHECK ({MAINTENANCE})"
        )


def downgrade():
    op.drop_table("game_sessions")  # its policies go with it
    op.drop_table("api_tokens")
    op.drop_table("guild_members")
    op.drop_table("users")
    op.drop_table("guilds")
