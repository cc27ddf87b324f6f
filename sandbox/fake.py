"""What every fake shares: credentials to check, a seeded random source, and default faulty replies."""

import random

from sandbox.server import Reply, Request


class Fake:
    """A fake API mounted at ``/<name>``. Subclasses implement ``handle`` and ``configuration``."""

    name = "fake"

    def __init__(self, *, seed: int = 1):
        self.seed = seed
        self.random = random.Random(seed)

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def configuration(self, base_url: str) -> dict:
        raise NotImplementedError

    def malformed(self, request: Request) -> Reply:
        """A 200 whose body cannot be parsed."""
        return Reply.text('{"results": [{"id": "1", ', content_type="application/json")

    def without_envelope(self, request: Request) -> Reply:
        """A 200 that parses but lacks the key (or root element) its records live under: a changed API."""
        return Reply.json({"data": []})

    def expired_token(self, request: Request) -> Reply:
        return Reply.json({"message": "Unauthorized"}, 401)

    def control(self, action: str, payload: dict) -> dict:
        handler = getattr(self, f"control_{action}", None)
        if handler is None:
            return {"error": f"{self.name} has no control action {action!r}"}
        return handler(**payload) or {"ok": True}
