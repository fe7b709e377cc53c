"""The errors services raise, by what they mean to a caller rather than by app.

Pure Python (no Django), so that the pure modules (rubrics, imaging) can raise them too. The API
maps each kind to one status and error code (core/api.py); pages show the message as it is.
"""


class InvalidInput(ValueError):
    """Values that do not fit (a score out of range, a bad file): 400 `invalid_values`."""

    code = "invalid_values"


class InvalidFile(InvalidInput):
    """A file refused as a whole; `errors` names each bad line (400 `invalid_csv`, `fields.file`)."""

    code = "invalid_csv"
    max_shown = 50

    def __init__(self, errors: list[str], *, summary: str):
        self.errors = errors
        self.summary = summary
        shown = errors[: self.max_shown]
        more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__(f"{summary}:\n" + "\n".join(shown) + more)


class StateConflict(Exception):
    """An action the current state does not allow (a locked study, a retrain already running): 409."""

    code = "study_state"


class IdempotencyConflict(Exception):
    """A request sent again under an idempotency key that an earlier, different request used (other
    scores, say): 422 `idempotency_conflict`. The earlier request's result stands; nothing is stored."""

    code = "idempotency_conflict"


class NotAllowed(PermissionError):
    """An action this person may not take, though they may see what it is about (a member of the
    study, say): 403 `permission_denied`. Anything they may not even see is a 404 instead."""

    code = "permission_denied"


class TooLarge(Exception):
    """More than a limit allows (a study's storage quota): 413 `too_large`."""

    code = "too_large"
