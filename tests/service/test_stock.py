"""``make demo`` on a fresh clone: the repository is cloned into a temporary folder with nothing beside
it (no ../shared), the demo's build step (scripts/demo.sh with DEMO_BUILD_ONLY=1) builds the stock Faces
and their sample videos there, ``facecraft stock add`` installs them, and a real server lists them as
``face_type=system``, serves their preview clips and renders a video from one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from facecraft import media
from facecraft.cli import main
from facecraft.faces import load_bundle
from facecraft.faces.stock import STOCK_SOURCES
from tests.service.helpers import LiveServer, live_server, make_settings, new_key, poll
from tests.utils import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of this repository (its committed state) in a folder with no ../shared."""
    root = tmp_path_factory.mktemp("fresh")
    target = root / "facecraft"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True, timeout=300)
    assert not (root / "shared").exists() and not (target / "faces").exists()
    return target


@pytest.fixture(scope="module")
def demo_build(clone: Path) -> subprocess.CompletedProcess[str]:
    """The demo's build step in the clone, with this venv's packages and the clone's own code."""
    env = {**os.environ, "PY": sys.executable, "PYTHONPATH": str(clone / "src"), "DEMO_BUILD_ONLY": "1"}
    env.pop("FACECRAFT_TESTDATA", None)
    code = subprocess.run([sys.executable, "-c", "import facecraft; print(facecraft.__file__)"], env=env,
                          cwd=clone, capture_output=True, text=True, check=True)
    assert code.stdout.strip().startswith(str(clone / "src")), code.stdout  # the clone's code runs
    done = subprocess.run(["bash", "scripts/demo.sh"], env=env, cwd=clone, capture_output=True, text=True,
                          timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_the_demo_builds_each_stock_face_with_a_sample_video(clone: Path, demo_build) -> None:  # noqa: ANN001
    for source in STOCK_SOURCES:
        folder = clone / "faces" / "stock" / source.key
        bundles = [p for p in folder.iterdir() if (p / "manifest.json").is_file()]
        assert len(bundles) == 1, list(folder.iterdir())
        bundle = load_bundle(bundles[0])
        assert bundle.manifest["name"] == source.name
        assert bundle.manifest["source"]["sha256"] == source.sha256
        assert bundle.manifest["voice"]["source"]["voice_name"] == source.voice
        preview = folder / "preview.mp4"
        assert f"{source.name}: sample video {preview.relative_to(clone)}" in demo_build.stdout
        info = media.probe(preview)
        assert info.video is not None and info.audio is not None and info.duration_s > 3.0
    # Quiet: no native log lines from MediaPipe/TFLite in what a person reads.
    for noise in ("W0000", "XNNPACK", "absl::InitializeLog", "Traceback"):
        assert noise not in demo_build.stdout + demo_build.stderr


def test_a_second_run_keeps_what_was_built(clone: Path, demo_build) -> None:  # noqa: ANN001
    before = {p: p.stat().st_mtime for p in (clone / "faces" / "stock").rglob("manifest.json")}
    env = {**os.environ, "PY": sys.executable, "PYTHONPATH": str(clone / "src"), "DEMO_BUILD_ONLY": "1"}
    done = subprocess.run(["bash", "scripts/demo.sh"], env=env, cwd=clone, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("already built") == len(STOCK_SOURCES)
    assert {p: p.stat().st_mtime for p in (clone / "faces" / "stock").rglob("manifest.json")} == before


@pytest.fixture(scope="module")
def settings(clone: Path, demo_build, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    data = tmp_path_factory.mktemp("stock-data")
    assert main(["stock", "add", str(clone / "faces"), "--data-dir", str(data)]) == 0
    assert main(["stock", "add", str(clone / "faces"), "--data-dir", str(data)]) == 0  # idempotent
    return make_settings(data)


@pytest.fixture(scope="module")
def server(settings) -> Iterator[LiveServer]:  # noqa: ANN001
    with live_server(settings) as srv:
        yield srv


def test_stock_faces_are_listed_as_system_faces_and_render(server: LiveServer, settings,  # noqa: ANN001
                                                           clone: Path) -> None:
    key = new_key(settings, "stock")
    with server.client(key) as client:
        listed = client.get("/v2/faces", params={"face_type": "system", "verbose": "true"}).json()
        assert listed["total_count"] == len(STOCK_SOURCES)  # installed twice, listed once
        by_name = {f["face_name"]: f for f in listed["data"]}
        assert set(by_name) == {s.name for s in STOCK_SOURCES}
        for source in STOCK_SOURCES:
            face = by_name[source.name]
            assert face["face_type"] == "system" and face["status"] == "completed"
            assert face["voice_name"] == source.voice
            preview = client.get(face["thumbnail_video_url"])
            assert preview.status_code == 200 and preview.headers["content-type"] == "video/mp4"
            assert preview.content == (clone / "faces" / "stock" / source.key / "preview.mp4").read_bytes()
            assert client.get(face["thumbnail_image_url"]).headers["content-type"] == "image/jpeg"
        replicas = client.get("/v2/replicas").json()["data"]
        assert {r["replica_type"] for r in replicas} == {"system"} and len(replicas) == len(STOCK_SOURCES)
        assert client.get("/v2/faces", params={"face_type": "user"}).json()["total_count"] == 0
        # Stock Faces are not the key's to delete.
        face_id = by_name[STOCK_SOURCES[0].name]["face_id"]
        assert client.delete(f"/v2/faces/{face_id}").status_code == 400
        # A video from a stock Face, in its stock voice.
        created = client.post("/v2/videos", json={"face_id": face_id, "script": "Hello from the stock."})
        assert created.status_code == 200, created.text
        video_id = created.json()["video_id"]
        video = poll(lambda: client.get(f"/v2/videos/{video_id}").json(),
                     lambda v: v["status"] in ("ready", "error"), timeout=600)
        assert video["status"] == "ready", video
        mp4 = client.get(video["download_url"])
        assert mp4.status_code == 200 and len(mp4.content) > 10_000
        # Each stock PAL names the stock Face it was written for, by this installation's Face id.
        stock_pals = client.get("/v2/pals", params={"pal_type": "system"}).json()["data"]
        face_ids = {f["face_id"] for f in listed["data"]}
        assert stock_pals and all(p["default_face_id"] in face_ids for p in stock_pals)


def test_stock_add_takes_a_face_file_and_skips_a_damaged_one(clone: Path, demo_build,  # noqa: ANN001
                                                              tmp_path: Path) -> None:
    from facecraft.faces.bundle import export_bundle
    from facecraft.service.stock import install_stock_faces

    folder = clone / "faces" / "stock" / STOCK_SOURCES[0].key
    bundle = next(p for p in folder.iterdir() if (p / "manifest.json").is_file())
    drop = tmp_path / "drop"
    export_bundle(bundle, drop / "eileen.face")
    (drop / "junk.face").write_bytes(b"not a zip at all")
    settings = make_settings(tmp_path / "data")
    added = install_stock_faces(drop, settings=settings)
    assert len(added) == 1  # the damaged file is skipped with a warning, not an error
    assert install_stock_faces(drop, settings=settings) == []  # the same bundle is not added twice
    with live_server(settings) as srv, srv.client(new_key(settings)) as client:
        faces = client.get("/v2/faces", params={"face_type": "system"}).json()["data"]
        assert [f["face_name"] for f in faces] == [STOCK_SOURCES[0].name]
        # Without a preview clip of its own, the thumbnail video is the bundle's footage.
        assert client.get(faces[0]["thumbnail_video_url"]).content == (bundle / "footage.mp4").read_bytes()
