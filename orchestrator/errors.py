"""Hilum's exception hierarchy: one root, mapped to HTTP / gRPC status in one place each.

    HilumError                      root of everything Hilum raises on purpose
    ├── InputError                  the caller sent something unusable (HTTP 4xx)
    │   ├── UnsupportedMediaError   not an image / not a DICOM we can read        → 415
    │   ├── ImageTooLargeError      byte size or pixel dimensions over the limits → 413
    │   ├── CorruptImageError       truncated DICOM, broken PNG                    → 422
    │   ├── InvalidQuestionError    empty or over-long question                    → 422
    │   └── NotAChestFilmError      not a frontal chest radiograph shown upright   → 422
    ├── SessionError
    │   ├── SessionNotFoundError    no such session (or it expired)               → 404
    │   └── SessionForbiddenError   the session belongs to another tenant         → 403
    ├── EncoderError                the anatomy encoder failed or is unavailable  → 503
    │   └── EncoderOverloadedError  the encoder's queue is full                   → 429
    └── NarratorError               the language model failed (the composer takes over)

Every subclass carries an HTTP status and a gRPC status-code name so that the REST and
gRPC shells map errors with one function each and never guess. ``retry_after_s``, where set,
tells a client when trying again makes sense (REST sends it as ``Retry-After``).
"""

from __future__ import annotations


class HilumError(Exception):
    """Root of every error Hilum raises on purpose."""

    http_status: int = 500
    grpc_code: str = "INTERNAL"
    kind: str = "internal"
    retry_after_s: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(HilumError):
    http_status = 400
    grpc_code = "INVALID_ARGUMENT"
    kind = "bad_input"


class UnsupportedMediaError(InputError):
    http_status = 415
    kind = "unsupported_media"


class ImageTooLargeError(InputError):
    http_status = 413
    grpc_code = "RESOURCE_EXHAUSTED"
    kind = "too_large"


class CorruptImageError(InputError):
    http_status = 422
    kind = "corrupt_image"


class InvalidQuestionError(InputError):
    http_status = 422
    kind = "invalid_question"


class NotAChestFilmError(InputError):
    """The film gate (``orchestrator.film_gate``) refused the upload; ``reason`` is its code."""

    http_status = 422
    kind = "not_a_chest_film"

    def __init__(self, message: str, reason: str = "not_chest") -> None:
        super().__init__(message)
        self.reason = reason


class SessionError(HilumError):
    pass


class SessionNotFoundError(SessionError):
    http_status = 404
    grpc_code = "NOT_FOUND"
    kind = "session_not_found"


class SessionForbiddenError(SessionError):
    http_status = 403
    grpc_code = "PERMISSION_DENIED"
    kind = "session_forbidden"


class EncoderError(HilumError):
    http_status = 503
    grpc_code = "UNAVAILABLE"
    kind = "encoder"


class EncoderOverloadedError(EncoderError):
    http_status = 429
    grpc_code = "RESOURCE_EXHAUSTED"
    kind = "encoder_overloaded"
    retry_after_s = 1  # a film takes tens of ms to encode: the queue moves within a second


class NarratorError(HilumError):
    http_status = 502
    grpc_code = "UNAVAILABLE"
    kind = "narrator"
