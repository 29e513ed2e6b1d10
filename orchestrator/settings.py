"""The one settings object. Read once (``Settings()`` in the CLI entry point) and passed down.

Every field can be set from the environment with the ``HILUM_`` prefix, e.g.
``HILUM_PORT=8080``; nested names are not used, so each variable is flat.
Sections are grouped by the component that reads them; add fields in your section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HILUM_", extra="ignore")

    # --- service ---------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    grpc_port: int = 50051
    log_level: str = "INFO"
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, description="413 above this")
    max_image_pixels: int = Field(default=6000 * 6000, description="413 above this many pixels")
    max_question_chars: int = 2000
    session_ttl_s: int = 3600
    max_sessions: int = 1000
    max_turns_per_session: int = Field(default=500, ge=2, description="turns one session answers (the screening "
                                       "turn counts); one more is 409 session_full: a new session or a fork goes on")
    redis_url: str | None = None
    session_lock_wait_s: float = Field(default=10.0, gt=0, description="a turn waits this long for another turn "
                                       "on the same session (on any replica), then 409 session_busy + Retry-After")
    session_lock_lease_s: float = Field(default=30.0, gt=0, description="Redis: a turn's hold on its session "
                                        "lapses after this (a replica that died mid-turn); a turn that outlives "
                                        "it is refused at commit (409), never merged")
    drain_timeout_s: float = 20.0
    # idle HTTP keep-alive: longer than a load balancer's idle timeout (60 s), and far from the
    # seconds a request can take on a busy CPU (uvicorn's 5 s timer, armed after one response,
    # can fire during the next one on the same connection: Kludex/uvicorn#1637)
    http_keep_alive_s: int = 75
    http_workers: int = Field(default=0, ge=0, description="REST requests worked on at once (uploads, turns: "
                              "the sync thread pool); one more gets 429 server_busy at once. 0: "
                              "encoder_queue_size + 16, so a full encoder queue answers 429 before the pool fills")
    http_body_timeout_s: float = Field(default=60.0, gt=0, description="a request body not received whole "
                                       "this long after its headers gets 408 and the connection closes")
    http_head_timeout_s: float = Field(default=20.0, gt=0, description="a request line and headers not received "
                                       "whole this long after the connection opened (or the previous answer) close "
                                       "the connection, with 408 when part of them came")
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024, description="request line and headers; more "
                                       "gets 431")
    grpc_workers: int = Field(default=0, ge=0, description="gRPC threads and concurrent RPCs; one more gets "
                              "RESOURCE_EXHAUSTED at once. 0: encoder_queue_size + 16")

    # --- identity and limits per tenant (orchestrator/tenancy.py) ------------------------------
    api_keys_file: Path | None = Field(
        default=None, description='JSON {"tenants": {"<tenant>": ["sha256:<hex of the key>", ...]}}; the tenant '
        "comes from the key (Authorization: Bearer). Unset: loopback only, tenant from X-Hilum-Tenant",
    )
    api_key: SecretStr | None = Field(default=None, description="the key clients (hilum ask --server) send")
    tenant_rate_per_s: float = Field(default=50.0, ge=0, description="session requests per second per tenant "
                                     "(token bucket refill); 0: no limit")
    tenant_burst: int = Field(default=100, ge=1, description="the token bucket's size: requests at once")
    tenant_max_uploads: int = Field(default=16, ge=0, description="concurrent first turns (uploads) per tenant; "
                                    "0: no limit")
    max_sessions_per_tenant: int = Field(default=500, ge=0, description="open sessions per tenant (429 "
                                         "tenant_quota above); 0: no limit")

    # --- encoder ---------------------------------------------------------------------
    encoder: str = Field(default="embedded", description="'embedded' or 'triton://HOST:PORT'")
    onnx_path: Path = REPO_ROOT / "encoder" / "weights" / "anatomy_encoder.onnx"
    model_repository: Path = REPO_ROOT / "model_repository"
    encoder_max_batch: int = 1
    encoder_max_wait_ms: float = 2.0
    encoder_queue_size: int = Field(
        default=64, ge=1, description="films that may wait on the encoder (embedded: its queue; triton: "
        "films in flight from this process); one more gets 429 / RESOURCE_EXHAUSTED"
    )
    encoder_intra_op_threads: int = 1  # x encoder_workers = 2 cores (loadtests/bench_encoder.py)
    malloc_trim_after_bytes: int = Field(default=1 << 20, ge=0, description="after analysing an upload that held more "
                                         "bytes than this (its own, or its pixels decoded as float32: a small PNG can "
                                         "declare 36 million pixels), give the freed heap back to the system "
                                         "(orchestrator/memory_return.py); 0: never")
    gc_freeze: bool = Field(default=True, description="hilum serve: move what start-up made out of the cyclic garbage "
                            "collector's view once warm (gc.freeze), so full collections walk only the sessions "
                            "(orchestrator/server.py warm_up)")
    analysis_processes: int = Field(
        default=0, ge=0, le=64, description="first turns (decode, gate, encoder, findings, reader) in this many "
        "worker processes (orchestrator/film_analysis.py), so that uploads do not stall follow-up turns on the "
        "GIL; 0: in the request's thread")
    analysis_nice: int = Field(
        default=10, ge=0, le=19, description="the analysis worker processes' niceness (os.nice): on a core shared "
        "with the follow-up turns, an upload's analysis takes what the follow-ups leave instead of stalling them "
        "(BENCHMARKS.md, 'Uploads below the follow-ups' priority'); 0: the server's own priority")
    encoder_timeout_s: float = 30.0
    triton_model_name: str = "anatomy_encoder"
    triton_shared_memory_slots: int = Field(
        default=0, ge=0, description="a Triton on this host only: films and maps through N /dev/shm regions; 0: gRPC payloads"
    )
    encoder_workers: int = Field(default=2, description="embedded: ORT runner threads sharing one session")
    triton_bin: Path | None = Field(default=None, description="tritonserver binary; default: the pytriton wheel's")
    second_look: bool = Field(default=False, description="report a lesion only if the encoder finds it again on "
                              "the film scaled by 0.85 and 1.15 (orchestrator/encoders/second_look.py): two more "
                              "encoder passes per first turn with findings; for weights trained on scaled films")

    # --- second reader (issue 21: orchestrator/encoders/second_reader.py) ------------------------
    second_reader: str = Field(default="embedded", description="'off', 'embedded' (in-process ONNX Runtime) or "
                               "'triton://HOST:PORT' (model second_reader): other weights read every film too, and a "
                               "lesion is reported only where both see it (orchestrator/encoders/second_reader.py)")
    # the confirmer, stage V2 (encoder/weights/TRAINING.md, "A confirmer taught deformed chests"); stage R, which
    # confirmed until 2026-12-06, stays in encoder/weights/second-reader/ as half of the alone reader
    second_reader_onnx_path: Path = REPO_ROOT / "encoder" / "weights" / "confirmer" / "anatomy_encoder.onnx"
    alone_reader_onnx_path: Path | None = Field(
        default=REPO_ROOT / "encoder" / "weights" / "second-reader-ensemble" / "anatomy_encoder.onnx",
        description="the weights that read a film alone (second_reader_reads_alone), where the second reader's "
                    "spec says (in process, or Triton's model alone_reader); empty or the second reader's own path: "
                    "the second reader reads alone too (orchestrator/encoders/second_reader.py)")
    second_reader_reads_alone: bool = Field(default=True, description="read a film whose anatomy the main weights "
                                            "cannot establish (another patient, a real film) from the second reader's "
                                            "maps alone, with its second look, its certainty limit and its confidence "
                                            "tables, the answer saying so; false: withhold it (README, 'The second "
                                            "reader')")

    # --- lesion reader (issue 22: orchestrator/findings/lesion_reading.py) ----------------------
    lesion_reader: str = Field(default="embedded", description="'off', 'embedded' (in-process ONNX Runtime) or "
                               "'triton://HOST:PORT' (model lesion_reader): reads each focal finding's margin "
                               "on the upload's own pixels on a first turn (films with pixels <= "
                               "lesion_reader_max_mm_per_px)")
    lesion_reader_onnx_path: Path = REPO_ROOT / "encoder" / "weights" / "lesion-reader" / "lesion_reader.onnx"
    lesion_reader_max_mm_per_px: float = Field(default=0.3, gt=0, description="films with coarser pixels keep "
                                               "the lesion map's margin (the reader's crop would be an upsampled blur)")
    lesion_reader_backs_smooth: bool = Field(default=False, description="let a confident smooth reading be stated "
                                             "(and decide a checklist's margin item). Off: a smooth reading leaves "
                                             "the finding as the lesion map made it; the reader is trained on phantom "
                                             "films only, whose 1-2 mm spicules lie below the detector's noise, so "
                                             "its 'smooth' is not validated where spicules show")
    lesion_reader_sizes: bool = Field(default=True, description="give a finding the reader reads the size and "
                                      "outline of the reader's fine mask (0.5 mm pixels) instead of the lesion "
                                      "map's (~1.3 mm); the centre stays (orchestrator/findings/lesion_reading.py). "
                                      "Through the whole pipeline, round lesions >= 8 mm: diameter within 15% "
                                      "86.4% -> 96.3% (loadtests/score_reader_pipeline.py)")
    lesion_reader_states_spicules: bool = Field(default=False, description="state and draw the reader's spicule "
                                                "hours, count and lengths. Off: a spiculated reading keeps its "
                                                "class and probability, without them; on held-out crops they are "
                                                "at chance (hours 2.5%, count within 1 11.5%), the phantom's "
                                                "spicules hidden by the anatomy behind them "
                                                "(encoder/weights/lesion-reader/README.md)")

    # --- narrator (vLLM) ---------------------------------------------------------------
    llm_urls: list[str] = Field(default_factory=list)
    llm_model: str = "google/medgemma-4b-it"
    llm_deadline_s: float = 8.0
    cache_salt_key: str = "hilum-dev-salt-key-change-me"
    llm_max_tokens: int = Field(default=512, description="max_tokens of each narration request")
    llm_connect_timeout_s: float = 1.0
    llm_max_attempts: int = Field(default=3, description="tries per turn, across replicas, within the deadline")
    llm_backoff_s: float = Field(default=0.1, description="first retry backoff; doubles per retry")
    llm_breaker_failures: int = Field(default=3, description="consecutive failures that open a replica's breaker")
    llm_breaker_reset_s: float = Field(default=15.0, description="seconds an open breaker waits before a probe")

    # --- PACS (orchestrator/pacs.py: DICOMweb QIDO-RS / WADO-RS / STOW-RS) -------------------------
    pacs_dicomweb_url: str | None = Field(default=None, description="the PACS's DICOMweb root, e.g. "
                                          "http://pacs:8042/dicom-web")
    pacs_username: str | None = Field(default=None, description="HTTP basic auth user for the PACS")
    pacs_password: SecretStr | None = Field(default=None, description="HTTP basic auth password (never logged)")
    pacs_timeout_s: float = Field(default=60.0, gt=0, description="each DICOMweb request")
    pacs_state_file: Path | None = Field(default=None, description="the poller's memory (hilum pacs --dicomweb): "
                                         "what it processed; default one file per PACS under cache_dir/pacs-poller")
    pacs_poll_interval_s: float = Field(default=30.0, gt=0, description="the poller: seconds between passes")
    pacs_retry_base_s: float = Field(default=5.0, ge=0, description="the poller: first backoff after a failed "
                                     "film; doubles per failure")
    pacs_retry_max_s: float = Field(default=600.0, ge=0, description="the poller: the longest backoff")
    pacs_page_size: int = Field(default=100, ge=1, le=10000, description="the poller: QIDO-RS limit per request")
    pacs_compare_earlier: bool = Field(default=False, description="the poller (hilum pacs --dicomweb): each film's "
                                       "session compares it with the patient's most recent earlier frontal film "
                                       "in the PACS")

    # --- DICOM node (orchestrator/dicom_scp.py: C-STORE SCP, hilum serve --dicom-port) ------------
    dicom_port: int | None = Field(default=None, ge=0, le=65535, description="the C-STORE SCP's port on "
                                   "settings.host (loopback unless api_keys_file is set); unset: no SCP")
    dicom_max_associations: int = Field(default=32, ge=1, le=1024, description="associations the node serves at "
                                        "once; one more is refused (busy) until one ends")
    dicom_idle_timeout_s: float = Field(default=10.0, gt=0, description="a connection to the node that asks for no "
                                        "association this long is dropped")
    dicom_ae_title: str = Field(default="HILUM", min_length=1, max_length=16, description="the SCP's AE title")
    dicom_lang: Literal["en", "zh"] = Field(default="en", description="the language of the sessions the node "
                                            "makes (their screening turn, SR and presentation state): zh for a "
                                            "Chinese-speaking site")
    dicom_ae_tenants: dict[str, str] = Field(default_factory=dict, description='calling AE title -> tenant, JSON '
                                             '{"CR_ROOM1": "alice"}; set: only these AEs may associate; unset: '
                                             "any AE, tenant default")
    dicom_results_state_file: Path | None = Field(default=None, description="with pacs_dicomweb_url set, the "
                                                  "node stores each session's SR/PR into the PACS "
                                                  "(orchestrator/dicom_node_results.py) and remembers it here; "
                                                  "default one file per PACS under cache_dir/dicom-node-results")

    deidentify: bool = Field(default=False, description="keep a DICOM upload's patient/study attributes only "
                             "after the PS3.15 basic profile with the Retain UIDs option (orchestrator/deidentify.py)")

    # --- data / phantom ----------------------------------------------------------------
    cache_dir: Path = Path.home() / ".cache" / "hilum"

    @field_validator("alone_reader_onnx_path", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """``HILUM_ALONE_READER_ONNX_PATH=`` (empty): none, the second reader reads alone (not the working directory)."""
        return None if isinstance(value, str) and not value.strip() else value

    def worker_count(self, configured: int) -> int:
        """``http_workers`` / ``grpc_workers`` as used: 0 means room for a full encoder queue and 16 turns."""
        return configured if configured > 0 else self.encoder_queue_size + 16
