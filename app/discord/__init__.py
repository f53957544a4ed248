"""Discord: the message of a game (embeds.py), queued with each change (webhooks.py, outbox.py)
and delivered through its guild's webhook (worker.py, delivery.py, client.py, cli.py)."""
