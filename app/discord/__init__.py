"""Discord: the message and embed of a game (embeds.py), and their webhook delivery."""
