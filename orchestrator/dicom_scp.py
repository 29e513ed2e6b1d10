"""``hilum serve --dicom-port P``: a DICOM node (C-STORE SCP, pynetdicom) for PACS and modalities that
push. Each frontal DX/CR film it receives becomes a session with its screening turn, made by the same
engine as ``POST /v1/sessions``; the sender learns the outcome from the C-STORE status.

- Presentation contexts: DX For Presentation / For Processing and CR storage, in the transfer syntaxes
  ``TRANSFER_SYNTAXES`` (uncompressed, deflated, RLE, JPEG baseline, extended and lossless, JPEG-LS and JPEG 2000
  lossless and lossy: what ``orchestrator/imaging.py`` decodes), plus Verification (C-ECHO).
- Peers: at most ``dicom_max_associations`` at once; a connection that asks for no association within
  ``dicom_idle_timeout_s`` is dropped (pynetdicom's defaults let 20 bare connections refuse every other sender for
  half a minute).
- Statuses: 0x0000 a session was made, or the film is one Hilum does not read (a lateral view, or a film its
  gate refuses as no upright frontal chest film: logged with the reason's code, no session made): a PACS sends a
  study's objects one after the other and stops at the first failure, so a PA + lateral study refused at its
  lateral would never send the PA; 0xA900 the object has no image (data set does not match the SOP
  class); 0xC000 Hilum could not read the object (corrupt, or not decodable: the error kind is the status's Error
  Comment, never a value from the object); 0xA700 an object over the upload limit
  (or deflated and inflating past it: ``too_large``), a tenant limit or a busy encoder (out of
  resources: send again later); 0x0110 anything else (processing failure). A failure never stops
  the node.
- Where it listens: ``settings.host`` (the REST host: loopback unless ``api_keys_file`` is set,
  ``tenancy.check_bind``), port ``settings.dicom_port``, AE title ``settings.dicom_ae_title``.
- Tenant: ``settings.dicom_ae_tenants`` maps calling AE titles to tenants; when it is set, only those
  AEs may associate. Unset: any AE, and the films go to the ``default`` tenant.
- PHI: the log says which calling AE sent a film and which session it became, never an attribute of
  the object.
- An earlier film: with ``HILUM_PACS_COMPARE_EARLIER=1`` and a PACS configured, the patient's most recent earlier
  frontal film in the PACS (``orchestrator.pacs.earlier_film``) is uploaded with the film, and the session compares
  them; a PACS that does not answer, or an earlier film Hilum refuses, leaves the film on its own.
- Results into a PACS: with ``HILUM_PACS_DICOMWEB_URL`` set, each session's SR and presentation state
  (and later SR versions after follow-ups) are stored into the film's study by a background sender
  (``orchestrator/dicom_node_results.py``); the C-STORE status does not wait for it.
- Memory: a received object is written to a temporary file as its fragments arrive (pynetdicom's
  ``STORE_RECV_CHUNKED_DATASET``, set for the process when a node is made), not gathered in memory;
  one over the upload limit is refused by its file size before a byte of it is read.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    Verification,
)

from orchestrator.dicom_out.source import valid_uid
from orchestrator.errors import (
    EncoderOverloadedError,
    HilumError,
    ImageTooLargeError,
    InputError,
    NotAChestFilmError,
    ServerBusyError,
    TenantLimitError,
)
from orchestrator.imaging import read_dicom_dataset
from orchestrator.pacs import LATERAL_VIEWS, DicomWebClient, earlier_film
from orchestrator.tenancy import DEFAULT_TENANT, check_bind

log = logging.getLogger(__name__)

STORAGE_CLASSES = (DigitalXRayImageStorageForPresentation, DigitalXRayImageStorageForProcessing,
                   ComputedRadiographyImageStorage)
TRANSFER_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, RLELossless,
                     JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1, JPEGLSLossless,
                     JPEGLSNearLossless, JPEG2000Lossless, JPEG2000]
MAX_META_BYTES = 64 * 1024  # the preamble and file meta pynetdicom writes before the data set

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
NOT_MATCHING_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
PROCESSING_FAILURE = 0x0110


def failure(status: int, comment: str) -> Dataset:
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = comment[:64]  # LO: 64 characters
    return ds


class DicomNode:
    """The C-STORE SCP over one engine; ``start`` listens in background threads, ``stop`` closes."""

    def __init__(self, services: Any, host: str, port: int) -> None:
        settings = services.settings
        check_bind(settings, host)  # the HTTP port's rule: loopback unless API keys are configured
        self.services = services
        self.host, self.port = host, port
        self.tenants = dict(settings.dicom_ae_tenants)
        self.ae = AE(ae_title=settings.dicom_ae_title)
        # a few idle peers must not hold the node: pynetdicom's defaults (10 associations, 30 s for a connection to
        # ask for one) let 20 bare connections refuse every other sender for half a minute. (Silence on an open
        # association keeps pynetdicom's 60 s: a sender waits in silence while its film is analysed.)
        self.ae.maximum_associations = settings.dicom_max_associations
        self.ae.acse_timeout = settings.dicom_idle_timeout_s
        for sop_class in STORAGE_CLASSES:
            self.ae.add_supported_context(sop_class, TRANSFER_SYNTAXES)
        self.ae.add_supported_context(Verification)
        if self.tenants:
            self.ae.require_calling_aet = list(self.tenants)
        self._server: Any = None
        from orchestrator.dicom_node_results import ResultSender

        self.results = ResultSender.from_settings(services.engine, settings)  # None: no PACS configured
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # its INFO/DEBUG lines describe the objects
        _config.STORE_RECV_CHUNKED_DATASET = True  # objects to a temporary file as they arrive, not to memory

    def start(self) -> DicomNode:
        if self.results is not None:
            self.results.start()  # takes its state file's lock: a second node on it fails here
        self._server = self.ae.start_server((self.host, self.port), block=False,
                                            evt_handlers=[(evt.EVT_C_STORE, self.on_store)])
        self.port = int(self._server.server_address[1])
        log.info("DICOM node %s listening on %s:%d", self.ae.ae_title, self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self.results is not None:
            self.results.stop()

    def tenant_of(self, calling_ae: str) -> str:
        return self.tenants.get(calling_ae.strip(), DEFAULT_TENANT)

    def on_store(self, event: Any) -> int | Dataset:
        calling = str(event.assoc.requestor.ae_title).strip()
        try:
            data = self.received(event)
            if data is None:
                return failure(OUT_OF_RESOURCES, ImageTooLargeError.kind)
            return self.store(data, self.tenant_of(calling), calling)
        except Exception:  # noqa: BLE001 - a failure status, never a dead node
            log.exception("a film from %s could not be processed", calling)
            return failure(PROCESSING_FAILURE, "processing failure")

    def received(self, event: Any) -> bytes | None:
        """The received object as a Part 10 file, or None when it is larger than the upload limit
        (judged by the temporary file's size, unread; pynetdicom deletes the file after the handler)."""
        if not _config.STORE_RECV_CHUNKED_DATASET:
            return event.encoded_dataset()
        path = Path(event.dataset_path)
        if path.stat().st_size > self.services.settings.max_upload_bytes + MAX_META_BYTES:
            return None
        return path.read_bytes()

    def _create(self, data: bytes, tenant: str, header: Dataset) -> Any:
        """The session, compared with the patient's earlier film in the PACS where that is asked for
        (``settings.pacs_compare_earlier`` with a PACS configured); a PACS that does not answer, or an earlier film
        Hilum refuses, leaves the film on its own."""
        engine, settings = self.services.engine, self.services.settings
        before = None
        study_uid = str(header.get("StudyInstanceUID", ""))
        if settings.pacs_compare_earlier and settings.pacs_dicomweb_url and valid_uid(study_uid):
            try:  # the film is not in the PACS yet, perhaps: its own patient ID and date are read from it
                with DicomWebClient.from_settings(settings) as pacs:
                    before = earlier_film(pacs, study_uid, str(header.get("PatientID", "")).strip(),
                                          str(header.get("StudyDate", "")).strip())
            except HilumError as exc:
                log.warning("the PACS did not give the earlier film (%s): the film on its own", exc.kind)
        if before is not None:
            try:
                return engine.create_session(data, filename=None, lang=settings.dicom_lang, tenant=tenant,
                                             earlier=before[1])
            except InputError as exc:
                if exc.subject != "earlier":  # the film itself refused: said as for any film
                    raise
                log.info("the earlier film was not compared (%s): the film on its own", exc.kind)
        return engine.create_session(data, filename=None, lang=settings.dicom_lang, tenant=tenant)

    def store(self, data: bytes, tenant: str, calling: str = "") -> int | Dataset:
        """One received object (a Part 10 file) → a session, or the failure status that says why not.
        The object is read within the upload limits (``imaging.read_dicom_dataset``: its size, and a
        deflated one inflated only up to the limit), never by pydicom whole."""
        try:
            header = read_dicom_dataset(data, self.services.settings)
        except ImageTooLargeError as exc:
            return failure(OUT_OF_RESOURCES, exc.kind)
        except Exception:  # noqa: BLE001 - whatever the parser says, the sender gets a status
            return failure(CANNOT_UNDERSTAND, "the object could not be parsed")
        if "PixelData" not in header:
            return failure(NOT_MATCHING_SOP_CLASS, "no image: the object has no pixel data")
        if str(header.get("ViewPosition", "")).strip().upper() in LATERAL_VIEWS:
            log.info("a film from %s not read: a lateral view (Hilum reads frontal films)", calling)
            return SUCCESS  # received, not read: the study's other objects still come
        tenancy = self.services.tenancy
        try:
            with tenancy.first_turn(tenant):
                view = self._create(data, tenant, header)
        except (TenantLimitError, ServerBusyError, EncoderOverloadedError) as exc:
            return failure(OUT_OF_RESOURCES, exc.kind)
        except NotAChestFilmError as exc:
            log.info("a film from %s not read: %s (%s)", calling, exc.kind, exc.reason)
            return SUCCESS
        except InputError as exc:
            return failure(CANNOT_UNDERSTAND, exc.kind)
        except HilumError as exc:
            log.warning("a film from %s failed: %s", calling, exc.kind)
            return failure(PROCESSING_FAILURE, exc.kind)
        findings = len(view.turns[0].findings) if view.turns else 0
        log.info("a film from %s became session %s (%d findings)", calling, view.session_id, findings)
        if self.results is not None:
            uids = [str(header.get(k, "")) for k in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")]
            if all(valid_uid(u) for u in uids):
                self.results.add(*uids, session_id=view.session_id, tenant=tenant)
            else:
                log.warning("session %s: the film's UIDs are not valid; its results are not stored in the PACS",
                            view.session_id)
        return SUCCESS
