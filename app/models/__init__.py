"""The data model: one module per aggregate.

Import the module you need (``from app.models.game_image import GameImage``): this package
imports nothing itself, so the public image path loads no model but ``GameImage``.
"""
