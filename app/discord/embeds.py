"""The Discord message of a game: one embed, inside Discord's limits, images by public URL."""

import datetime as dt

from app.models.game_session import GameSession, GameStatus

# Discord's embed limits (characters).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
FIELD_COUNT_LIMIT = 25
TOTAL_LIMIT = 6000
ELLIPSIS = "…"

COLOURS = {
    GameStatus.SCHEDULED: 0x5865F2,
    GameStatus.IN_PROGRESS: 0x57F287,
    GameStatus.COMPLETED: 0x95A5A6,
    GameStatus.CANCELLED: 0xED4245,
}
HEADLINES = {
    GameStatus.SCHEDULED: "Game scheduled",
    GameStatus.IN_PROGRESS: "Game in progress",
    GameStatus.COMPLETED: "Game completed",
    GameStatus.CANCELLED: "Game cancelled",
}
STATUS_LABELS = {status: status.value.replace("_", " ").title() for status in GameStatus}


def clip(text: str, limit: int) -> str:
    """The text, cut to ``limit`` characters with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def game_message(
    game: GameSession, thumbnail_url: str | None = None, banner_url: str | None = None
) -> dict:
    """The webhook payload announcing the game.

    The content carries no user text, so a title such as "@everyone" can never ping anyone;
    mentions inside an embed (the host) never notify.
    """
    status = GameStatus(game.status)
    unix = int(_utc(game.scheduled_at).timestamp())
    return {
        "content": f"{HEADLINES[status]} for <t:{unix}:F>",
        "embeds": [game_embed(game, thumbnail_url, banner_url)],
    }


def game_embed(
    game: GameSession, thumbnail_url: str | None = None, banner_url: str | None = None
) -> dict:
    """Title, description, colour by status, the game's facts as fields, footer and images."""
    status = GameStatus(game.status)
    embed: dict = {
        "title": clip(game.title, TITLE_LIMIT),
        "color": COLOURS[status],
        "fields": _fields(game),
        "footer": {"text": clip(f"Status: {STATUS_LABELS[status]}", FOOTER_LIMIT)},
        "timestamp": _utc(game.scheduled_at).isoformat(),
    }
    if game.description:
        embed["description"] = clip(game.description, DESCRIPTION_LIMIT)
    if thumbnail_url:
        embed["thumbnail"] = {"url": thumbnail_url}
    if banner_url:
        embed["image"] = {"url": banner_url}
    return fit_total(embed)


def _fields(game: GameSession) -> list[dict]:
    unix = int(_utc(game.scheduled_at).timestamp())
    facts = [
        ("Game Time", f"<t:{unix}:F> (<t:{unix}:R>)"),
        ("Host", f"<@{game.host.discord_user_id}>"),
        ("Where", game.where),
        ("Run Time", run_time(game.expected_duration_minutes)),
        ("Players", f"Up to {game.max_players}" if game.max_players else None),
        ("How to sign up", game.signup_instructions),
    ]
    return [
        {
            "name": clip(name, FIELD_NAME_LIMIT),
            "value": clip(value, FIELD_VALUE_LIMIT),
            "inline": name in ("Game Time", "Host", "Run Time", "Players"),
        }
        for name, value in facts[:FIELD_COUNT_LIMIT]
        if value and value.strip()
    ]


def run_time(minutes: int | None) -> str | None:
    """A duration as people say it: "45 minutes", "2 hours", "1 hour 30 minutes"."""
    if not minutes:
        return None
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def embed_length(embed: dict) -> int:
    """Characters Discord counts toward its 6000 total."""
    fields = embed.get("fields", [])
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + sum(len(field["name"]) + len(field["value"]) for field in fields)
        + len(embed.get("footer", {}).get("text", ""))
        + len(embed.get("author", {}).get("name", ""))
    )


def fit_total(embed: dict) -> dict:
    """Shorten the description, then the longest field values, until the total fits."""
    excess = embed_length(embed) - TOTAL_LIMIT
    if excess > 0 and embed.get("description"):
        keep = max(len(embed["description"]) - excess, 1)
        embed["description"] = clip(embed["description"], keep)
        excess = embed_length(embed) - TOTAL_LIMIT
    for field in sorted(embed["fields"], key=lambda f: len(f["value"]), reverse=True):
        if excess <= 0:
            break
        keep = max(len(field["value"]) - excess, 1)
        excess -= len(field["value"]) - keep
        field["value"] = clip(field["value"], keep)
    return embed


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
