"""``hilum pacs pull --study UID`` and ``hilum pacs push --session ID``: a running Hilum and a PACS
(DICOMweb), bridged by ``orchestrator/pacs.py``. Prints one JSON document; exits 1 with the error's
kind and message (never a patient attribute) when the PACS or Hilum refuses."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from orchestrator.settings import Settings


def register(subparsers: Any) -> None:
    pacs = subparsers.add_parser("pacs", help="pull films from a PACS into sessions, push results back (DICOMweb)")
    actions = pacs.add_subparsers(dest="pacs_action", metavar="ACTION", required=True)
    for name, helptext in (("pull", "a study's frontal DX/CR films -> Hilum sessions (screening turn)"),
                           ("push", "a session's SR and presentation state -> its study in the PACS")):
        p = actions.add_parser(name, help=helptext)
        p.add_argument("--dicomweb", metavar="URL", help="the PACS's DICOMweb root (default HILUM_PACS_DICOMWEB_URL)")
        p.add_argument("--server", metavar="URL", help="the running Hilum (default http://HILUM_HOST:HILUM_PORT)")
        p.add_argument("--api-key", help="Hilum API key (default HILUM_API_KEY)")
        p.add_argument("--tenant", help="X-Hilum-Tenant, for a loopback Hilum without keys")
        if name == "pull":
            p.add_argument("--study", required=True, metavar="UID", help="Study Instance UID")
            p.add_argument("--lang", choices=("zh", "en"))
        else:
            p.add_argument("--session", required=True, metavar="ID", help="the Hilum session id")
            p.add_argument("--seg", action="store_true", help="also store the lesion segmentation")
            p.add_argument("--validate", action="store_true", help="run dciodvfy on each object before storing")
        p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.errors import HilumError
    from orchestrator.pacs import DicomWebClient, hilum_http, pull_study, push_session

    server = args.server or f"http://{settings.host}:{settings.port}"
    api_key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    try:
        with DicomWebClient.from_settings(settings, args.dicomweb) as pacs, \
                hilum_http(server, api_key, args.tenant) as hilum:
            if args.pacs_action == "pull":
                films = pull_study(pacs, hilum, args.study, args.lang)
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
