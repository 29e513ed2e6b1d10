"""``hilum serve``, ``hilum ask``, ``hilum status``: the service's subcommands.

Registration declares arguments only; the handlers import the heavy parts when they run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from orchestrator.settings import Settings

CJK = re.compile(r"[\u3400-\u9fff]")


def register(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    serve = subparsers.add_parser("serve", help="run REST + web page (7860) and gRPC (50051) in one process")
    serve.add_argument("--host", help="bind address (default: settings.host)")
    serve.add_argument("--port", type=int, help="REST / web port (default 7860)")
    serve.add_argument("--grpc-port", type=int, help="gRPC port (default 50051)")
    serve.add_argument("--dicom-port", type=int, metavar="P",
                       help="also run a DICOM C-STORE SCP on this port (default: settings.dicom_port; none)")
    serve.add_argument("--encoder", help="'embedded' (default) or 'triton://HOST:PORT'")
    serve.add_argument("--llm-url", help="vLLM base URL(s), comma separated; none: the composer narrates")
    serve.add_argument("--llm-model", help="model name served by vLLM")
    serve.add_argument("--api-keys-file", type=Path,
                       help="tenants' API key hashes (default: settings.api_keys_file); none: loopback only")
    serve.set_defaults(handler=run_serve)

    ask = subparsers.add_parser("ask", help="one session: screening turn, then one turn per question")
    ask.add_argument("image", type=Path, help="DICOM, PNG or JPEG film")
    ask.add_argument("questions", nargs="*", help="questions, zh or en, asked in order")
    ask.add_argument("--json", action="store_true", help='print {"session_id", "turns": [...]}')
    ask.add_argument("--server", help="URL of a running Hilum (default: in-process engine)")
    ask.add_argument("--lang", choices=("zh", "en"), help="session language (default: from the first question)")
    ask.add_argument("--api-key", help="API key for --server (default: settings.api_key, HILUM_API_KEY)")
    ask.add_argument("--tenant", help="tenant (X-Hilum-Tenant) for a loopback server without API keys")
    ask.add_argument("--earlier", type=Path, metavar="FILM",
                     help="an earlier film of the same chest: the first turn compares the two")
    ask.add_argument("--study-date", metavar="YYYY-MM-DD", help="the film's date (default: its DICOM Study Date)")
    ask.add_argument("--earlier-date", metavar="YYYY-MM-DD", help="the earlier film's date (default: its DICOM's)")
    ask.add_argument("--sr", type=Path, metavar="OUT.dcm",
                     help="also write the session's DICOM SR (TID 1500 Measurement Report) after the last turn")
    ask.set_defaults(handler=run_ask)

    status = subparsers.add_parser(
        "status", help="on call: orchestrator readiness, sessions, store, queues, Triton models, narrator, GPU",
        description="Each source is probed with a short timeout; one that does not answer is reported as "
                    "unreachable. Exit status 0 when nothing failed, 1 otherwise.")
    status.add_argument("--server", help="orchestrator URL (default http://HOST:PORT from settings)")
    status.add_argument("--encoder", help="encoder to probe (default: settings.encoder)")
    status.add_argument("--triton-metrics", help="Triton metrics URL (default http://TRITON_HOST:8002/metrics)")
    status.add_argument("--llm-url", help="vLLM base URL(s) to probe, comma separated (default: settings.llm_urls)")
    status.add_argument("--timeout", type=float, default=3.0, metavar="S",
                        help="seconds each source has to answer (default 3)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=run_status)


def settings_from_args(args: argparse.Namespace, settings: Settings) -> Settings:
    """Flags override the environment-derived settings (only the flags given)."""
    update: dict[str, Any] = {}
    for flag, name in (("host", "host"), ("port", "port"), ("grpc_port", "grpc_port"), ("dicom_port", "dicom_port"),
                       ("encoder", "encoder"), ("llm_model", "llm_model"), ("api_keys_file", "api_keys_file")):
        value = getattr(args, flag, None)
        if value is not None:
            update[name] = value
    if getattr(args, "llm_url", None):
        update["llm_urls"] = [u.strip() for u in args.llm_url.split(",") if u.strip()]
    return settings.model_copy(update=update)


# --- serve -----------------------------------------------------------------------------------------
def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.server import serve

    return serve(settings_from_args(args, settings))


# --- ask -------------------------------------------------------------------------------------------
def session_lang(args: argparse.Namespace) -> str:
    if args.lang:
        return args.lang
    return "zh" if args.questions and CJK.search(args.questions[0]) else "en"


def ask_in_process(args: argparse.Namespace, settings: Settings) -> tuple[dict[str, Any], bytes | None]:
    """The session's turns, and its SR (``--sr``) from the same builder as ``GET .../report?format=sr``."""
    from orchestrator.dicom_out.objects import DicomObjects
    from orchestrator.server import build_services

    services = build_services(settings)
    try:
        engine = services.engine
        view = engine.create_session(
            args.image.read_bytes(), filename=args.image.name, lang=session_lang(args),
            earlier=args.earlier.read_bytes() if args.earlier else None,
            earlier_filename=args.earlier.name if args.earlier else None,
            study_date=args.study_date, earlier_date=args.earlier_date)
        session = view.to_dict()
        turns = list(session["turns"])
        turns += [engine.ask(session["session_id"], q).to_dict() for q in args.questions]
        sr = DicomObjects(engine).bytes("sr", session["session_id"]) if args.sr else None
        return {"session_id": session["session_id"], "turns": turns}, sr
    finally:
        services.close()


def ask_remote(args: argparse.Namespace, settings: Settings) -> tuple[dict[str, Any], bytes | None]:
    from orchestrator.client import HilumClient, RemoteError

    api_key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    with HilumClient(args.server, api_key=api_key, tenant=args.tenant) as client:
        session = client.create_session(args.image, lang=session_lang(args), earlier=args.earlier,
                                        study_date=args.study_date, earlier_date=args.earlier_date)
        turns = list(session["turns"])
        turns += [client.ask(session["session_id"], q) for q in args.questions]
        sr = None
        if args.sr:
            r = client.http.get(f"/v1/sessions/{session['session_id']}/report", params={"format": "sr"})
            if r.status_code != 200 or r.headers.get("content-type") != "application/dicom":
                try:
                    err = r.json()["error"]
                    kind, message = str(err.get("kind", "error")), str(err.get("message", ""))
                except (ValueError, KeyError, TypeError, AttributeError):
                    kind, message = "http", "the server did not answer the SR as application/dicom"
                raise RemoteError(r.status_code, kind, message)
            sr = r.content
        return {"session_id": session["session_id"], "turns": turns}, sr


def render_turn(turn: dict[str, Any]) -> str:
    head = f"── turn {turn['turn']} · {turn['intent']} · {turn['lang']}"
    lines = [head, turn["answer"]["text"]]
    for m in turn.get("measurements") or []:
        if m.get("kind") == "interval_change":  # this film's size <- the earlier film's, and what was called
            sizes = " <- ".join("-" if v is None else f"{v:.1f}" for v in (m.get("mm"), m.get("earlier_mm")))
            days = f", {m['interval_days']} days" if m.get("interval_days") is not None else ""
            status = str(m.get("status") or "").replace("_", " ")  # "seen on both", "no measurable change"
            if m.get("earlier_uncertain") and m.get("status") in ("larger", "smaller", "no_measurable_change"):
                status = "not measured (the earlier film only possibly shows a lesion)"  # as the answer says
            lines.append(f"   [earlier film{days}] {m.get('from') or '-'} {sizes} mm: {status} "
                         f"({m.get('spacing_source', '?')})")
        elif m.get("mm") is not None:
            # a finding's one size as the text states it: a strand's or an oval's axes, else the number measured
            axes = m.get("kind") == "diameter" and m.get("size_kind") == "axes" and m.get("size_mm")
            value = " × ".join(f"{v:.1f}" for v in m["size_mm"]) if axes else f"{m['mm']:.1f}"
            lines.append(f"   [{'size' if axes else m.get('kind')}] {m.get('from', m.get('of', ''))}→{m.get('to', '')} "
                         f"{value} mm ({m.get('spacing_source', '?')})")
    checklist = turn.get("checklist")
    if checklist:
        lines.append(f"   checklist {checklist.get('name')}: {checklist.get('matched')}/{checklist.get('total')}")
    return "\n".join(lines)


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    from orchestrator.errors import HilumError

    for path in (args.image, args.earlier):
        if path is not None and not path.is_file():
            print(f"hilum ask: no such file: {path}", file=sys.stderr)
            return 2
    if args.sr is not None and not args.sr.parent.is_dir():
        print("hilum ask: --sr: the folder to write the SR into does not exist", file=sys.stderr)
        return 2
    # a question the service would refuse is refused before the film is read, naming which (by place, never its text),
    # so that one empty or overlong question does not cost every answer after the analysis
    from orchestrator.dialogue.engine import question_problem

    for n, q in enumerate(args.questions, 1):
        why = question_problem(q, settings.max_question_chars)
        if why:
            print(f"hilum ask: invalid_question: question {n} {why}; nothing was asked", file=sys.stderr)
            return 2
    try:
        result, sr = ask_remote(args, settings) if args.server else ask_in_process(args, settings)
    except HilumError as exc:
        print(f"hilum ask: {exc.kind}: {exc.message}", file=sys.stderr)
        return 1
    except httpx.TransportError as exc:  # --server: nothing answered (refused, unreachable, timed out)
        print(f"hilum ask: the server did not answer ({type(exc).__name__})", file=sys.stderr)
        return 1
    if sr is not None:
        try:
            args.sr.write_bytes(sr)
        except OSError as exc:
            print(f"hilum ask: --sr: cannot write the SR ({type(exc).__name__})", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"session {result['session_id']}")
        print("\n\n".join(render_turn(t) for t in result["turns"]))
    return 0


# --- status ----------------------------------------------------------------------------------------
def run_status(args: argparse.Namespace, settings: Settings) -> int:
    import logging

    from orchestrator.fleet_status import as_json, collect, healthy, render

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the screen says what each probe got; no request log
    if not 0 < args.timeout <= 60:
        print("hilum status: --timeout must be between 0 and 60 seconds", file=sys.stderr)
        return 2
    settings = settings_from_args(args, settings)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    server = (args.server or f"http://{host}:{settings.port}").rstrip("/")
    probes = collect(settings, server, args.triton_metrics, timeout_s=args.timeout)
    if args.json:
        print(json.dumps(as_json(probes, server), ensure_ascii=False, default=str))
    else:
        print(render(probes, server))
    return 0 if healthy(probes) else 1
