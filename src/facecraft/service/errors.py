"""HTTP-level errors in API.md's shapes.

400/404: ``{"error": sentence, "error_id": id}``; 401: ``{"message": "Invalid access token"}``.
"""

from __future__ import annotations

__all__ = ["ApiError", "NotFound", "BadRequest"]


class ApiError(Exception):
    def __init__(self, status_code: int, message: str, *, error_id: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.error_id = error_id

    def body(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.error_id:
            body["error_id"] = self.error_id
        return body


class NotFound(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message, error_id="not_found")


class BadRequest(ApiError):
    def __init__(self, message: str, *, error_id: str = "invalid_input") -> None:
        super().__init__(400, message, error_id=error_id)
