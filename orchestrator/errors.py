"""Hilum's exception hierarchy: one root, mapped to HTTP / gRPC status in one place each.

    HilumError                      root of everything Hilum raises on purpose
    ├── InputError                  the caller sent something unusable (HTTP 4xx)
    │   ├── UnsupportedMediaError   not an image / not a DICOM we can read        → 415
    │   ├── ImageTooLargeError      byte size or pixel dimensions over the limits → 413
    │   ├── CorruptImageError       truncated DICOM, broken PNG                    → 422
    │   ├── InvalidQuestionError    empty, over-long, or with control characters   → 422
    │   ├── UnsupportedLanguageError a session language other than zh or en       → 422
    │   ├── InvalidDateError        a study date that is not one, or an earlier film not earlier → 422
    │   ├── NotSamePatientError     an earlier film whose DICOM names another patient → 422
    │   └── NotAChestFilmError      not a frontal chest radiograph shown upright   → 422
    ├── UnauthenticatedError        no valid API key (Authorization: Bearer)      → 401
    ├── SessionError
    │   ├── SessionNotFoundError    no such session, expired, or another tenant's → 404
    │   ├── NoHeatmapError          the session has no lesion heatmap to serve    → 404
    │   ├── NoEarlierFilmError      the session was made without an earlier film  → 404
    │   ├── SessionBusyError        another turn holds the session past the wait  → 409 + Retry-After
    │   └── SessionFullError        the session has answered its most turns        → 409
    ├── StoreUnavailableError       the session store (Redis) does not answer     → 503 + Retry-After
    ├── ServerBusyError             every request slot of this server is taken    → 429 + Retry-After
    ├── TenantLimitError            a per-tenant limit (orchestrator/tenancy.py)   → 429
    │   ├── RateLimitedError        the tenant's request rate (token bucket)       → 429 + Retry-After
    │   ├── UploadsBusyError        the tenant's concurrent first turns (uploads)  → 429 + Retry-After
    │   └── TenantQuotaError        the tenant's open sessions (or none to evict)  → 429
    ├── EncoderError                the anatomy encoder failed or is unavailable  → 503
    │   └── EncoderOverloadedError  the encoder's queue is full                   → 429
    └── NarratorError               the language model failed (the composer takes over)

Defined beside the code that raises them, in the same tree:
    InputError ← InvalidTurnError (dialogue/engine.py: a turn not answered, 422), SameFilmError (dialogue/earlier.py:
    the film uploaded as its own earlier film, 422), ReportFormatError
    (dicom_out/objects.py); HilumError ← NoSuchDicomObjectError (dicom_out/objects.py, 404),
    RemoteError (client.py: a remote Hilum's error, re-raised by the CLI), PacsError (pacs.py: the
    PACS or Hilum refused or did not answer, 502; ← HilumUnreachableError), PacsUsageError (pacs.py:
    a bad UID, a state file, a session not from DICOM, 400; ← SessionGoneError).

Every subclass carries an HTTP status and a gRPC status-code name so that the REST and
gRPC shells map errors with one function each and never guess. ``retry_after_s``, where set,
tells a client when trying again makes sense (REST sends it as ``Retry-After``).
"""

from __future__ import annotations

import re

# what a message that leaves the server must not carry: object reprs ("<_io.BytesIO object at
# 0x7f…>"), addresses of the services behind it (URLs, IP:port, host:port such as Triton's)
_OBJECT_REPR = re.compile(r"<[^<>]{0,200}? at 0x[0-9a-fA-F]+>")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://\S+")
_HOST_PORT = re.compile(
    r"(?<![\w.:])(?:\[[0-9a-fA-F:.]+\]|\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z][A-Za-z0-9.-]{0,252}):\d{2,5}\b")
# an IP with its port, whatever precedes it ("ipv4:127.0.0.1:8001", "ipv6:[::1]:8001")
_IP = re.compile(r"(?:\b\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\])(?::\d{1,5}\b)?")


def public_message(exc: HilumError) -> str:
    """``exc.message`` as a client may see it: object reprs and network addresses removed
    (the full text stays in the server's own log where a 5xx is logged)."""
    text = _OBJECT_REPR.sub("<object>", exc.message)
    text = _URL.sub("<address>", text)
    text = _IP.sub("<address>", text)  # before host:port, which would read "ipv4:127" as a host and a port
    return _HOST_PORT.sub("<address>", text)


class HilumError(Exception):
    """Root of every error Hilum raises on purpose."""

    http_status: int = 500
    grpc_code: str = "INTERNAL"
    kind: str = "internal"
    retry_after_s: int | None = None
    subject: str | None = None  # what the error is about when a request carries more than one film ("earlier")

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled whole (its kind's extra attributes too): errors cross from the analysis worker
        processes (``orchestrator/film_analysis.py``) as raised."""
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[HilumError], message: str, state: dict[str, object]) -> HilumError:
    exc = cls.__new__(cls)
    HilumError.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


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


class UnsupportedLanguageError(InputError):
    """A session's language is neither Chinese nor English (a tag's first part decides: zh-CN is zh)."""

    http_status = 422
    kind = "unsupported_language"


class InvalidQuestionError(InputError):
    http_status = 422
    kind = "invalid_question"


class InvalidDateError(InputError):
    """A study date given with an upload is not a date (YYYY-MM-DD or YYYYMMDD), or the earlier film's is not
    before this film's."""

    http_status = 422
    kind = "invalid_date"


class NotSamePatientError(InputError):
    """The earlier film uploaded for comparison names another patient (both files' Patient ID)."""

    http_status = 422
    kind = "not_the_same_patient"
    subject = "earlier"


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


class NoHeatmapError(SessionError):
    http_status = 404
    grpc_code = "NOT_FOUND"
    kind = "no_heatmap"


class NoEarlierFilmError(SessionError):
    http_status = 404
    grpc_code = "NOT_FOUND"
    kind = "no_earlier_film"


class SessionBusyError(SessionError):
    """Another turn on the same session (on any replica) held it past the bounded wait, or the
    session changed under this turn before it was stored: nothing was stored, ask again."""

    http_status = 409
    grpc_code = "ABORTED"
    kind = "session_busy"
    retry_after_s = 1


class SessionFullError(SessionError):
    """The session has answered ``max_turns_per_session`` turns: a new session (or a fork of this
    one from an earlier turn) continues the conversation."""

    http_status = 409
    grpc_code = "FAILED_PRECONDITION"
    kind = "session_full"


class StoreUnavailableError(HilumError):
    """The session store (Redis) cannot be reached: refused before any decoding or encoding."""

    http_status = 503
    grpc_code = "UNAVAILABLE"
    kind = "store_unavailable"
    retry_after_s = 2


class ServerBusyError(HilumError):
    """This server already works on as many requests as its threads allow (``http_workers``,
    ``grpc_max_concurrent_rpcs``): refused at once instead of queueing behind them."""

    http_status = 429
    grpc_code = "RESOURCE_EXHAUSTED"
    kind = "server_busy"
    retry_after_s = 1


class UnauthenticatedError(HilumError):
    """No API key, or one that no tenant holds. The message never echoes the key."""

    http_status = 401
    grpc_code = "UNAUTHENTICATED"
    kind = "unauthenticated"


class TenantLimitError(HilumError):
    http_status = 429
    grpc_code = "RESOURCE_EXHAUSTED"
    kind = "tenant_limit"

    def __init__(self, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s


class RateLimitedError(TenantLimitError):
    kind = "rate_limited"
    retry_after_s = 1


class UploadsBusyError(TenantLimitError):
    kind = "too_many_uploads"
    retry_after_s = 1  # a first turn takes about a second


class TenantQuotaError(TenantLimitError):
    """The tenant holds its maximum of open sessions: close one (or let one expire) first."""

    kind = "tenant_quota"


class EncoderError(HilumError):
    """The encoder (Triton, ONNX Runtime) could not answer: 503 with Retry-After (a restarted Triton
    serves again within seconds; the service itself needs no restart)."""

    http_status = 503
    grpc_code = "UNAVAILABLE"
    kind = "encoder"
    retry_after_s = 5


class EncoderOverloadedError(EncoderError):
    http_status = 429
    grpc_code = "RESOURCE_EXHAUSTED"
    kind = "encoder_overloaded"
    retry_after_s = 1  # a film takes tens of ms to encode: the queue moves within a second


class NarratorError(HilumError):
    http_status = 502
    grpc_code = "UNAVAILABLE"
    kind = "narrator"
