"""migrate images to separate table

Creates game_images and the thumbnail_id / banner_image_id foreign keys, moves every
embedded image into game_images byte for byte (one row per distinct SHA-256, with exact
reference counts), then drops the four embedded columns. The downgrade moves the bytes
back into the columns. Nothing is lost either way.

On PostgreSQL game_sessions has forced row-level security: the data moves run in the
owner's maintenance context, which the owner-only policy of revision 0001 allows.

Revision ID: 0002_images_table
Revises: 0001_initial_schema
Create Date: 2026-11-23

"""

import hashlib
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002_images_table"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None

# (embedded bytes column, embedded type column, foreign key column)
SLOTS = [
    ("thumbnail_data", "thumbnail_mime_type", "thumbnail_id"),
    ("image_data", "image_mime_type", "banner_image_id"),
]
EMBEDDED = [name for data, mime, _ in SLOTS for name in (data, mime)]

game_images = sa.table(
    "game_images",
    sa.column("id", sa.Uuid()),
    sa.column("content_hash", sa.String()),
    sa.column("image_data", sa.LargeBinary()),
    sa.column("byte_size", sa.Integer()),
    sa.column("mime_type", sa.String()),
    sa.column("reference_count", sa.Integer()),
)
game_sessions = sa.table(
    "game_sessions",
    sa.column("id", sa.Uuid()),
    *(sa.column(data, sa.LargeBinary()) for data, _, _ in SLOTS),
    *(sa.column(mime, sa.String()) for _, mime, _ in SLOTS),
    *(sa.column(fk, sa.Uuid()) for _, _, fk in SLOTS),
)

MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]


def sniffed_mime_type(data: bytes, stored: str | None) -> str:
    """The type the bytes say they are (the old code trusted clients), else the stored one."""
    for magic, mime in MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return (stored or "application/octet-stream")[:32]


def enter_maintenance_context(bind) -> None:
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("SELECT set_config('app.maintenance', 'on', true)"))


def create_game_images() -> None:
    id_default = (
        sa.text("gen_random_uuid()") if op.get_bind().dialect.name == "postgresql" else None
    )
    op.create_table(
        "game_images",
        sa.Column("id", sa.Uuid(), nullable=False, server_default=id_default),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("image_data", sa.LargeBinary(), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("mime_type", sa.String(32), nullable=False),
        sa.Column("reference_count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "reference_count >= 0", name="ck_game_images_reference_count_not_negative"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_game_images"),
    )
    op.create_index("ix_game_images_content_hash", "game_images", ["content_hash"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        # PNG, JPEG, GIF and WebP are compressed already: pglz would try and give up on every
        # insert (~50 ms for a 4 MB JPEG). Stored out of line, uncompressed.
        op.execute("ALTER TABLE game_images ALTER COLUMN image_data SET STORAGE EXTERNAL")


def move_images_out(bind) -> None:
    """One game_images row per distinct content; each slot points at it and counts once."""
    image_id_by_hash: dict[str, uuid.UUID] = {}
    session_ids = bind.execute(sa.select(game_sessions.c.id)).scalars().all()
    for session_id in session_ids:  # one row's bytes in memory at a time
        row = (
            bind.execute(sa.select(game_sessions).where(game_sessions.c.id == session_id))
            .mappings()
            .one()
        )
        links = {}
        for data_col, mime_col, fk_col in SLOTS:
            data = row[data_col]
            if not data:
                continue
            content_hash = hashlib.sha256(data).hexdigest()
            if content_hash in image_id_by_hash:
                bind.execute(
                    game_images.update()
                    .where(game_images.c.content_hash == content_hash)
                    .values(reference_count=game_images.c.reference_count + 1)
                )
            else:
                image_id_by_hash[content_hash] = uuid.uuid4()
                bind.execute(
                    game_images.insert().values(
                        id=image_id_by_hash[content_hash],
                        content_hash=content_hash,
                        image_data=data,
                        byte_size=len(data),
                        mime_type=sniffed_mime_type(data, row[mime_col]),
                        reference_count=1,
                    )
                )
            links[fk_col] = image_id_by_hash[content_hash]
        if links:
            bind.execute(
                game_sessions.update().where(game_sessions.c.id == session_id).values(**links)
            )


def move_images_back(bind) -> None:
    """Copy each referenced image's bytes and type back into the session's own columns."""
    for data_col, mime_col, fk_col in SLOTS:
        image = game_images.alias("image")
        fk = game_sessions.c[fk_col]
        bind.execute(
            game_sessions.update()
            .where(fk.is_not(None))
            .values(
                {
                    data_col: sa.select(image.c.image_data)
                    .where(image.c.id == fk)
                    .scalar_subquery(),
                    mime_col: sa.select(image.c.mime_type)
                    .where(image.c.id == fk)
                    .scalar_subquery(),
                }
            )
        )


def upgrade():
    bind = op.get_bind()
    create_game_images()
    with op.batch_alter_table("game_sessions") as batch:
        for _, _, fk_col in SLOTS:
            batch.add_column(sa.Column(fk_col, sa.Uuid(), nullable=True))
            batch.create_foreign_key(
                f"fk_game_sessions_{fk_col}_game_images",
                "game_images",
                [fk_col],
                ["id"],
                ondelete="SET NULL",
            )
            batch.create_index(f"ix_game_sessions_{fk_col}", [fk_col])
    enter_maintenance_context(bind)
    move_images_out(bind)
    with op.batch_alter_table("game_sessions") as batch:
        for column in EMBEDDED:
            batch.drop_column(column)


def downgrade():
    bind = op.get_bind()
    with op.batch_alter_table("game_sessions") as batch:
        batch.add_column(sa.Column("thumbnail_data", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("thumbnail_mime_type", sa.String(32), nullable=True))
        batch.add_column(sa.Column("image_data", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("image_mime_type", sa.String(32), nullable=True))
    enter_maintenance_context(bind)
    move_images_back(bind)
    with op.batch_alter_table("game_sessions") as batch:
        for _, _, fk_col in SLOTS:
            batch.drop_index(f"ix_game_sessions_{fk_col}")
            batch.drop_constraint(f"fk_game_sessions_{fk_col}_game_images", type_="foreignkey")
            batch.drop_column(fk_col)
    op.drop_index("ix_game_images_content_hash", table_name="game_images")
    op.drop_table("game_images")
