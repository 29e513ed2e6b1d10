"""``hilum pacs --dicomweb URL [--once]`` (the poller), ``hilum pacs pull --study UID`` and ``hilum pacs
push --session ID``: a running Hilum and a PACS (DICOMweb), bridged by ``orchestrator/pacs.py``.
Prints JSON (the poller: one document per pass); exits 1 with the error's kind and message (never a
patient attribute) when the PACS or Hilum refuses, and ``--once`` exits 1 when a film failed or still
waits for its retry."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from orchestrator.settings import Settings


def _connection_args(p: argparse.ArgumentParser, default: Any = None) -> None:
    p.add_argument("--dicomweb", metavar="URL", default=default,
                   help="the PACS's DICOMweb root (default HILUM_PACS_DICOMWEB_URL)")
    p.add_argument("--server", metavar="URL", default=default,
                   help="the running Hilum (default http://HILUM_HOST:HILUM_PORT)")
    p.add_argument("--api-key", default=default, help="Hilum API key (default HILUM_API_KEY)")
    p.add_argument("--tenant", default=default, help="X-Hilum-Tenant, for a loopback Hilum without keys")


def register(subparsers: Any) -> None:
    pacs = subparsers.add_parser(
        "pacs", help="poll a PACS for new chest films (sessions + SR/PR stored back); or pull / push one (DICOMweb)",
        description="Without ACTION: poll the PACS (QIDO-RS) for new frontal DX/CR films, make each a session "
                    "(first turn) and store its SR and presentation state into its study (STOW-RS), remembering "
                    "what was done in a state file; --once does one pass.")
    _connection_args(pacs)
    pacs.add_argument("--once", action="store_true", help="one pass, then exit 0 (all settled) or 1")
    pacs.add_argument("--state", type=Path, metavar="FILE",
                      help="the poller's state file (default HILUM_PACS_STATE_FILE, else one per PACS in the cache)")
    pacs.add_argument("--lang", choices=("zh", "en"))
    pacs.add_argument("--earlier", action="store_true",
                      help="compare each film with the patient's most recent earlier frontal film in the PACS "
                           "(default: HILUM_PACS_COMPARE_EARLIER)")
    pacs.set_defaults(handler=run, pacs_action=None)
    actions = pacs.add_subparsers(dest="pacs_action", metavar="ACTION")
    for name, helptext in (("pull", "a study's frontal DX/CR films -> Hilum sessions (screening turn)"),
                           ("push", "a session's SR and presentation state -> its study in the PACS")):
        p = actions.add_parser(name, help=helptext)
        _connection_args(p, argparse.SUPPRESS)  # given before or after ACTION
        if name == "pull":
            p.add_argument("--study", required=True, metavar="UID", help="Study Instance UID")
            p.add_argument("--lang", choices=("zh", "en"), default=argparse.SUPPRESS)
            p.add_argument("--earlier", action="store_true", default=argparse.SUPPRESS,
                           help="compare each film with the patient's most recent earlier frontal film in the PACS")
        else:
            p.add_argument("--session", required=True, metavar="ID", help="the Hilum session id")
            p.add_argument("--seg", action="store_true", help="also store the lesion segmentation")
            p.add_argument("--validate", action="store_true", help="run dciodvfy on each object before storing")
        p.set_defaults(handler=run)


def poll(args: argparse.Namespace, settings: Settings, pacs: Any, hilum: Any) -> int:
    from orchestrator.pacs import PacsPoller, PollerState, default_state_path

    path = args.state or default_state_path(settings, str(pacs.http.base_url))
    stop = threading.Event()
    if not args.once:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    with PollerState(path).locked():
        state = PollerState.load(path)  # read under the lock: what the last poller wrote
        poller = PacsPoller(pacs, hilum, state, lang=args.lang, retry_base_s=settings.pacs_retry_base_s,
                            retry_max_s=settings.pacs_retry_max_s, page_size=settings.pacs_page_size,
                            with_earlier=args.earlier or settings.pacs_compare_earlier)
        while True:
            report = poller.run_once()
            print(json.dumps(report.to_dict(), ensure_ascii=False), flush=True)
            if args.once:
                return 0 if report.ok else 1
            if stop.wait(poller.next_wake(settings.pacs_poll_interval_s)):
                return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.errors import HilumError
    from orchestrator.pacs import DicomWebClient, hilum_http, pull_study, push_session

    server = args.server or f"http://{settings.host}:{settings.port}"
    api_key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    try:
        with DicomWebClient.from_settings(settings, args.dicomweb) as pacs, \
                hilum_http(server, api_key, args.tenant) as hilum:
            if args.pacs_action is None:
                return poll(args, settings, pacs, hilum)
            if args.pacs_action == "pull":
                films = pull_study(pacs, hilum, args.study, args.lang, with_earlier=args.earlier)
                out: dict[str, Any] = {"study_uid": args.study, "films": [f.to_dict() for f in films]}
            else:
                kinds = ("sr", "pr", "seg") if args.seg else ("sr", "pr")
                pushed = push_session(pacs, hilum, args.session, kinds, validate=args.validate)
                out = {"session_id": args.session, "stored": [p.to_dict() for p in pushed]}
    except HilumError as exc:
        print(json.dumps({"error": {"kind": exc.kind, "message": exc.message}}), file=sys.stderr)
        return 1
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0
