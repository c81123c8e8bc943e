"""Errors are values with stable codes; adapters map them to HTTP statuses and CLI messages."""

from __future__ import annotations

from typing import Any, ClassVar


class DeskbaseError(Exception):
    """Base of every error a client may see: `code` is stable, `message` is for humans."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(DeskbaseError):
    code = "bad_request"
    status = 400


class InvalidJson(BadRequest):
    code = "invalid_json"


class InvalidFilter(BadRequest):
    code = "invalid_filter"


class InvalidId(BadRequest):
    code = "invalid_id"


class Unauthorized(DeskbaseError):
    code = "unauthorized"
    status = 401


class Forbidden(DeskbaseError):
    code = "forbidden"
    status = 403


class NotFound(DeskbaseError):
    code = "not_found"
    status = 404


class Conflict(DeskbaseError):
    code = "conflict"
    status = 409


class PreconditionFailed(DeskbaseError):
    code = "version_mismatch"
    status = 412


class PayloadTooLarge(DeskbaseError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(DeskbaseError):
    code = "unsupported_media_type"
    status = 415


class FileTooLarge(PayloadTooLarge):
    """An upload over `max_file_bytes`: refused while streaming, with nothing stored."""

    code = "file_too_large"


class ValidationFailed(DeskbaseError):
    """Input is well-formed but breaks a rule; `details.errors` lists each violation with its JSON pointer."""

    code = "validation_failed"
    status = 422

    def __init__(
        self, message: str, errors: list[dict[str, Any]] | None = None, details: dict[str, Any] | None = None
    ) -> None:
        merged = dict(details or {})
        if errors is not None:
            merged["errors"] = errors
        super().__init__(message, merged)


class RateLimited(DeskbaseError):
    code = "rate_limited"
    status = 429


class QueryRejected(DeskbaseError):
    code = "query_rejected"
    status = 400


class QueryError(DeskbaseError):
    code = "query_error"
    status = 400


class QueryTimeout(DeskbaseError):
    code = "query_timeout"
    status = 504


class Unavailable(DeskbaseError):
    code = "unavailable"
    status = 503


class ReplicaLagging(Unavailable):
    code = "replica_lagging"


class WriteConflict(Unavailable):
    """Concurrent writers met (PostgreSQL: a deadlock, or a unique key taken between check and insert) more
    often than the unit of work retries; nothing was written, and the same request may simply be sent again."""

    code = "write_conflict"


def all_error_types() -> list[type[DeskbaseError]]:
    """Every concrete error class; the contract test walks this list."""
    seen: list[type[DeskbaseError]] = []
    stack: list[type[DeskbaseError]] = [DeskbaseError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
