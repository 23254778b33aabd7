"""Reliability of a running server: hostile inputs, killed job processes, concurrent clients.

Starts ``facecraft serve`` (the real command, ``FACECRAFT_WORKERS=2``) on a scratch data directory and:

1. sends every hostile input of ``bench/hostile.py`` (broken, huge and bomb uploads, SSRF URLs, hostile
   scripts, path traversal, unicode) and checks each ends with its error id;
2. kills a job process (``kill -9``) in the middle of a build and of a render: the job must finish on a
   later attempt;
3. runs 20 concurrent clients for 60 s against the API while two builds run, and measures the API's
   latency from the clients' side;
4. renders a 20,000-character script through a worker and records the job process's peak memory;
5. counts server tracebacks, stuck jobs and lost Faces at the end.

Prints a table and writes ``bench/results/robustness.json`` (keys ``inputs_tried``, ``tracebacks``,
``stuck_jobs``, ``lost_faces``, ``peak_rss_mb``, ``api_p95_ms_under_load`` and the details).
``--quick`` runs a reduced form (no builds, a short load), which the test suite uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.hostile import SSRF_URLS, hostile_scripts, training_files  # noqa: E402

from _common import machine_info  # noqa: E402

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
CLIP = TESTDATA / "video" / "mimictalk_German_20s.mp4"
LONG_SCRIPT_CHARS = 20_000
THINK_S = 0.25  # between two requests of one load client


class Server:
    """``facecraft serve`` in a subprocess with its own data directory and key."""

    def __init__(self, data_dir: Path, port: int, workers: int) -> None:
        exe = Path(sys.executable).parent / "facecraft"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FACECRAFT_")}
        self.env.update(
            {
                "FACECRAFT_DATA_DIR": str(data_dir),
                "FACECRAFT_WORKERS": str(workers),
                "FACECRAFT_ALLOW_CONSENT_ATTESTATION": "true",
                "FACECRAFT_MAX_TRAINING_SECONDS": "8",
                "FACECRAFT_WORKER_POLL_S": "0.3",
            }
        )
        out = subprocess.run(
            [str(exe), "keys", "create", "--data-dir", str(data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        self.key = next(w for w in out.stdout.split() if w.startswith("fc_"))
        self.log_path = data_dir / "serve.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(port), "--data-dir", str(data_dir)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("the server did not start")

    def client(self, timeout: float = 120) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"x-api-key": self.key}, timeout=timeout, trust_env=False
        )

    def job_processes(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and b"facecraft.service.isolation" in cmd:
                found.append(int(entry))
        return found

    def rss_mb(self, pid: int | None = None) -> float:
        try:
            text = Path(f"/proc/{pid or self.proc.pid}/status").read_text()
        except OSError:
            return 0.0
        return next((int(x.split()[1]) / 1024 for x in text.splitlines() if x.startswith("VmRSS:")), 0.0)

    def tracebacks(self) -> int:
        self.log.flush()
        return self.log_path.read_text(errors="replace").count("Traceback (most recent call last)")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def wait_face(client: httpx.Client, face_id: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    face: dict = {}
    while time.monotonic() < deadline:
        face = client.get(f"/v2/faces/{face_id}").json()
        if face.get("status") != "started":
            return face
        time.sleep(0.5)
    return face


def wait_video(client: httpx.Client, video_id: str, timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    video: dict = {}
    while time.monotonic() < deadline:
        video = client.get(f"/v2/videos/{video_id}").json()
        if video.get("status") in ("ready", "error", "deleted"):
            return video
        time.sleep(1.0)
    return video


def upload(client: httpx.Client, data: bytes, name: str) -> str:
    resp = client.post("/v2/uploads", files={"file": (name, data, "video/mp4")})
    resp.raise_for_status()
    return str(resp.json()["upload_id"])


def create_face(client: httpx.Client, upload_id: str, name: str = "bench", **extra: Any) -> str:
    resp = client.post(
        "/v2/faces",
        json={"face_name": name, "train_video_upload_id": upload_id, "consent_attested": True, **extra},
    )
    resp.raise_for_status()
    return str(resp.json()["face_id"])


def hostile_inputs(server: Server, quick: bool) -> list[dict]:
    rows: list[dict] = []
    with server.client() as client, tempfile.TemporaryDirectory() as tmp:
        files = training_files(TESTDATA)
        if quick:
            files = [f for f in files if f.file_name in ("empty.mp4", "notes.mp4", "tiny.mp4", "bomb.mp4")]
        pending = []
        for hostile in files:
            face_id = create_face(client, upload(client, hostile.make(Path(tmp)), hostile.file_name))
            pending.append((hostile, face_id))
        for hostile, face_id in pending:
            face = wait_face(client, face_id)
            rows.append(
                {
                    "input": hostile.name,
                    "expected": hostile.error_id,
                    "got": face.get("error_id"),
                    "ok": face.get("status") == "error" and face.get("error_id") == hostile.error_id,
                }
            )
        for url in SSRF_URLS:
            resp = client.post("/v2/faces", json={"face_name": "x", "train_video_url": url})
            got = resp.json().get("error_id") if resp.status_code == 400 else str(resp.status_code)
            rows.append(
                {
                    "input": f"SSRF {url}",
                    "expected": "download_link",
                    "got": got,
                    "ok": got == "download_link",
                }
            )
        for what, script, status in hostile_scripts():
            resp = client.post("/v2/videos", json={"replica_id": "rnone", "script": script})
            rows.append(
                {
                    "input": f"script: {what}",
                    "expected": str(status),
                    "got": str(resp.status_code),
                    "ok": resp.status_code == status,
                }
            )
        # Path traversal: in an upload's file name, an upload id, a media token.
        resp = client.post("/v2/uploads", files={"file": ("../../../etc/passwd.mp4", b"junk", "video/mp4")})
        name = resp.json().get("file_name", "") if resp.status_code == 200 else ""
        rows.append(
            {
                "input": "traversal in an upload name",
                "expected": "sanitised",
                "got": name,
                "ok": resp.status_code == 200 and "/" not in name and ".." not in name,
            }
        )
        for path in (
            "/v2/uploads/..%2F..%2Ffacecraft.db",
            "/media/videos/..%2F..%2Ffacecraft.db/video.mp4",
            "/media/faces/x/..%2F..%2Ffacecraft.db",
            "/static/..%2F..%2Fservice%2Fsettings.py",
        ):
            resp = client.get(path)
            rows.append(
                {
                    "input": f"traversal {path}",
                    "expected": "404",
                    "got": str(resp.status_code),
                    "ok": resp.status_code == 404,
                }
            )
        resp = client.post(
            "/v2/faces", json={"face_name": "Zoë 🙂 名字", "train_video_upload_id": "u" + "0" * 10}
        )
        rows.append(
            {
                "input": "unicode name",
                "expected": "400 unknown upload",
                "got": str(resp.status_code),
                "ok": resp.status_code == 400 and "upload" in resp.json().get("error", ""),
            }
        )
    return rows


def kill_mid_job(server: Server) -> dict:
    """kill -9 the job process of a build, then of a render: both must finish on a later attempt."""
    with server.client() as client:
        face_id = create_face(client, upload(client, CLIP.read_bytes(), CLIP.name), "killed build")
        killed_build = _kill_first_job_process(server, after_s=8.0)
        face = wait_face(client, face_id)
        result: dict[str, Any] = {"build_killed": killed_build, "build_status": face.get("status")}
        if face.get("status") != "completed":
            return result
        vid = client.post("/v2/videos", json={"face_id": face_id, "script": "Hello there. " * 20}).json()[
            "video_id"
        ]
        result["render_killed"] = _kill_first_job_process(server, after_s=6.0)
        video = wait_video(client, vid)
        result["render_status"] = video.get("status")
        result["face_id"] = face_id
    return result


def _kill_first_job_process(server: Server, after_s: float) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pids = server.job_processes()
        if pids:
            time.sleep(after_s)
            for pid in server.job_processes():
                os.kill(pid, signal.SIGKILL)
                return True
        time.sleep(0.1)
    return False


def load(server: Server, seconds: float, clients: int, builds: int) -> dict:
    """``clients`` concurrent polling API clients for ``seconds`` while ``builds`` Faces build; latency as
    the clients see it."""
    with server.client() as client:
        building = [
            create_face(client, upload(client, CLIP.read_bytes(), CLIP.name), f"load {i}")
            for i in range(builds)
        ]
        deadline = time.monotonic() + 120
        while builds and len(server.job_processes()) < min(builds, 2) and time.monotonic() < deadline:
            time.sleep(0.2)
    latencies: list[float] = []
    errors: list[str] = []
    peak = {"server": 0.0, "jobs": 0.0}
    paths = ["/v2/faces", "/openapi.json", "/v2/videos", "/v2/replicas?page=0&limit=5"]
    paths += [f"/v2/faces/{fid}" for fid in building]
    jobs_during = 0

    async def one_client(n: int, client: httpx.AsyncClient, end: float) -> None:
        """A polling client: a request, then THINK_S of think time (what the portal and SDKs do)."""
        i = n
        while time.monotonic() < end:
            path = paths[i % len(paths)]
            i += 1
            t = time.perf_counter()
            try:
                status = (await client.get(path)).status_code
            except httpx.HTTPError as exc:
                status = -1
                errors.append(f"{path}: {exc}")
            latencies.append(time.perf_counter() - t)
            if status not in (200, -1):
                errors.append(f"{path}: {status}")
            await asyncio.sleep(THINK_S)

    async def sample(end: float) -> None:
        nonlocal jobs_during
        while time.monotonic() < end:
            peak["server"] = max(peak["server"], server.rss_mb())
            pids = server.job_processes()
            jobs_during = max(jobs_during, len(pids))
            for pid in pids:
                peak["jobs"] = max(peak["jobs"], server.rss_mb(pid))
            await asyncio.sleep(0.2)

    async def run() -> None:
        end = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(
            base_url=server.url, headers={"x-api-key": server.key}, timeout=30, trust_env=False, limits=limits
        ) as client:
            await asyncio.gather(*(one_client(n, client, end) for n in range(clients)), sample(end))

    asyncio.run(run())
    ms = sorted(x * 1000 for x in latencies)
    with server.client() as client:
        finished = [wait_face(client, fid) for fid in building]
    return {
        "clients": clients,
        "think_s": THINK_S,
        "seconds": seconds,
        "requests": len(ms),
        "errors": len(errors),
        "error_examples": errors[:5],
        "builds_running": jobs_during,
        "p50_ms": statistics.median(ms) if ms else None,
        "p95_ms": statistics.quantiles(ms, n=20)[-1] if len(ms) >= 20 else None,
        "max_ms": ms[-1] if ms else None,
        "server_rss_peak_mb": round(peak["server"], 1),
        "job_rss_peak_mb": round(peak["jobs"], 1),
        "builds": [f.get("status") for f in finished],
    }


def long_render(server: Server, face_id: str) -> dict:
    """A 20,000-character script rendered through a worker: how it ended and its process's peak memory."""
    sentence = "This long script checks that a long render costs time and not memory. "
    script = (sentence * (LONG_SCRIPT_CHARS // len(sentence) + 1))[:LONG_SCRIPT_CHARS].rsplit(" ", 1)[0] + "."
    with server.client() as client:
        t = time.monotonic()
        vid = client.post("/v2/videos", json={"face_id": face_id, "script": script}).json()["video_id"]
        video = wait_video(client, vid, timeout=3 * 3600)
    from facecraft.service.db import Database
    from facecraft.service.models import Job

    db = Database(f"sqlite:///{server.data_dir / 'facecraft.db'}")
    with db.session() as session:
        job = session.query(Job).filter(Job.target_id == vid).one()
        peak, attempts = job.peak_rss_mb, job.attempts
    db.dispose()
    return {
        "chars": len(script),
        "status": video.get("status"),
        "error": video.get("status_details"),
        "duration_s": video.get("duration_s"),
        "wall_s": round(time.monotonic() - t, 1),
        "peak_rss_mb": peak,
        "attempts": attempts,
    }


def census(server: Server) -> tuple[int, int]:
    """(stuck jobs, lost Faces): jobs neither finished nor legitimately waiting; completed Faces whose
    bundle is gone or that the API cannot read."""
    from facecraft.service.db import Database
    from facecraft.service.models import Face, Job

    db = Database(f"sqlite:///{server.data_dir / 'facecraft.db'}")
    with db.session() as session:
        stuck = session.query(Job).filter(Job.status.in_(("queued", "running"))).count()
        completed = [(f.id, f.bundle_path) for f in session.query(Face).filter(Face.status == "completed")]
    db.dispose()
    lost = 0
    with server.client() as client:
        for face_id, bundle in completed:
            if (
                not bundle
                or not Path(bundle).is_dir()
                or client.get(f"/v2/faces/{face_id}").status_code != 200
            ):
                lost += 1
    return stuck, lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "robustness.json")
    parser.add_argument("--quick", action="store_true", help="reduced form: no builds, a short load")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-long-render", action="store_true", help="skip the 20,000-character render")
    parser.add_argument("--load-only", action="store_true",
                        help="only the load phase (two builds, 20 clients, 60 s): to re-measure latency")
    args = parser.parse_args()
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="robustness-") as tmp:
        server = Server(Path(tmp), args.port, workers=2)
        try:
            rss_start = server.rss_mb()
            rows = [] if args.load_only else hostile_inputs(server, args.quick)
            kills: dict[str, Any] = {}
            if not args.quick and not args.load_only:
                kills = kill_mid_job(server)
            loaded = load(
                server, 10.0 if args.quick else 60.0, 4 if args.quick else 20, 0 if args.quick else 2
            )
            long: dict[str, Any] = {}
            if not args.quick and not args.load_only and not args.no_long_render and kills.get("face_id"):
                long = long_render(server, kills["face_id"])
            stuck, lost = census(server)
            tracebacks = server.tracebacks()
            rss_end = server.rss_mb()
        finally:
            server.stop()
    failed = [r for r in rows if not r["ok"]]
    result = {
        "machine": machine_info(),
        "quick": args.quick,
        "inputs_tried": len(rows),
        "inputs_failed": len(failed),
        "tracebacks": tracebacks,
        "stuck_jobs": stuck,
        "lost_faces": lost,
        "peak_rss_mb": long.get("peak_rss_mb") if long else loaded["job_rss_peak_mb"],
        "api_p95_ms_under_load": loaded["p95_ms"],
        # The API process across every job of the run (jobs run in their own processes).
        "server_rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1)},
        "inputs": rows,
        "kills": kills,
        "load": loaded,
        "long_render": long,
        "seconds": round(time.time() - t0, 1),
    }
    print(f"{'input':48s} {'expected':28s} {'got':28s} ok")
    for r in rows:
        mark = "yes" if r["ok"] else "NO"
        print(f"{r['input'][:48]:48s} {str(r['expected'])[:28]:28s} {str(r['got'])[:28]:28s} {mark}")
    print()
    print(
        f"inputs tried {len(rows)} (failed {len(failed)}), tracebacks {tracebacks}, stuck jobs {stuck}, "
        f"lost Faces {lost}; server RSS {rss_start:.0f} MB at start, {rss_end:.0f} MB at the end"
    )
    print(
        f"load: {loaded['clients']} clients x {loaded['seconds']:.0f} s, {loaded['requests']} requests, "
        f"{loaded['errors']} errors, builds running {loaded['builds_running']}, p50 {loaded['p50_ms']} ms, "
        f"p95 {loaded['p95_ms']} ms; server RSS peak {loaded['server_rss_peak_mb']} MB, job RSS peak "
        f"{loaded['job_rss_peak_mb']} MB"
    )
    if kills:
        print(f"kill -9 mid-build: {kills.get('build_status')}; mid-render: {kills.get('render_status')}")
    if long:
        print(
            f"{long['chars']}-character render: {long['status']} in {long['wall_s']} s, peak "
            f"{long['peak_rss_mb']} MB ({long.get('error') or 'ok'})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}")
    ok = not failed and tracebacks == 0 and stuck == 0 and lost == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
