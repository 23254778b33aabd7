"""Startup recovery of jobs a dead process left running (re-queued, or failed cleanly after too many tries),
and the cancelling of a deleted target's jobs."""

from __future__ import annotations

from pathlib import Path

from facecraft.service.face_service import delete_face
from facecraft.service.ids import new_token
from facecraft.service.keys import lookup_key
from facecraft.service.models import Face, Job, Video
from facecraft.service.runtime import Runtime
from facecraft.service.video_service import delete_video
from tests.service.helpers import make_settings, new_key


def _seed(settings, *, attempts: int) -> tuple[str, str]:  # noqa: ANN001
    key = new_key(settings)
    rt = Runtime.open(settings)
    with rt.db.session() as session:
        owner = lookup_key(session, key).id
        face = Face(
            id="rtest",
            owner_id=owner,
            name="t",
            status="started",
            progress=40,
            share_token=new_token(),
            options={},
        )
        video = Video(
            id="vtest",
            owner_id=owner,
            face_id="rtest",
            status="generating",
            progress=30,
            script="Hi there.",
            share_token=new_token(),
            options={},
        )
        session.add_all([face, video])
        session.add(
            Job(id="jface", kind="face_build", target_id="rtest", status="running", attempts=attempts)
        )
        session.add(
            Job(id="jvideo", kind="video_render", target_id="vtest", status="running", attempts=attempts)
        )
    rt.close()
    return "rtest", "vtest"


def test_interrupted_jobs_are_requeued(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, run_worker=False)
    _seed(settings, attempts=1)
    rt = Runtime.open(settings)  # recovery runs here
    with rt.db.session() as session:
        assert {j.status for j in session.query(Job)} == {"queued"}
        face, video = session.get(Face, "rtest"), session.get(Video, "vtest")
        assert (face.status, face.progress) == ("started", 0)
        assert (video.status, video.progress) == ("queued", 0)
    rt.close()


def test_jobs_interrupted_too_often_fail_cleanly(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, run_worker=False, max_job_attempts=2)
    _seed(settings, attempts=2)
    rt = Runtime.open(settings)
    with rt.db.session() as session:
        assert {j.status for j in session.query(Job)} == {"failed"}
        face, video = session.get(Face, "rtest"), session.get(Video, "vtest")
        assert face.status == "error" and "interrupted" in face.error_message
        assert video.status == "error" and video.error_id == "video_error"
    rt.close()


def test_targets_without_a_job_end_in_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, run_worker=False)
    _seed(settings, attempts=1)
    rt = Runtime.open(settings)
    with rt.db.session() as session:  # the job rows are lost (e.g. restored from an older backup)
        session.query(Job).delete()
    rt.close()
    rt = Runtime.open(settings)
    with rt.db.session() as session:
        face, video = session.get(Face, "rtest"), session.get(Video, "vtest")
        assert face.status == "error" and "interrupted" in face.error_message
        assert video.status == "error" and video.error_id == "video_error"
    rt.close()


def _running_jobs(tmp_path: Path) -> tuple[Runtime, str]:
    """A runtime whose seeded build and render are ``running`` (startup recovery re-queued them; they are
    put back), and the owner's id."""
    settings = make_settings(tmp_path, run_worker=False)
    _seed(settings, attempts=1)
    rt = Runtime.open(settings)
    with rt.db.session() as session:
        for job in session.query(Job):
            job.status = "running"
        return rt, session.get(Face, "rtest").owner_id


def test_hard_deleting_a_face_cancels_its_running_build_and_renders(tmp_path: Path) -> None:
    rt, owner = _running_jobs(tmp_path)
    with rt.db.session() as session:
        delete_face(session, rt.storage, owner_id=owner, face_id="rtest", hard=True)
    with rt.db.session() as session:
        jobs = {j.id: (j.status, j.error) for j in session.query(Job)}
        gone = ("failed", "the Face was deleted")
        assert jobs == {"jface": gone, "jvideo": gone}
        assert session.get(Face, "rtest") is None and session.get(Video, "vtest").status == "deleted"
    rt.close()


def test_deleting_a_video_cancels_its_running_render_only(tmp_path: Path) -> None:
    rt, owner = _running_jobs(tmp_path)
    with rt.db.session() as session:
        delete_video(session, rt.storage, owner_id=owner, video_id="vtest")
    with rt.db.session() as session:
        assert {j.id: j.status for j in session.query(Job)} == {"jface": "running", "jvideo": "failed"}
    rt.close()


def test_a_queued_job_is_claimed_by_one_worker_only(tmp_path: Path) -> None:
    """Two workers that read the same queued row: only one runs it (a second run of a build removed the
    first one's files). The second worker's claim happens between the first one's read and its write."""
    from facecraft.service.jobs import claim_job, enqueue

    settings = make_settings(tmp_path, run_worker=False)
    rt = Runtime.open(settings)
    with rt.db.session() as session:
        enqueue(session, kind="face_build", target_id="rtest")
    claims: list[object] = []

    class Racing:
        """A handler whose readiness check lets the other worker claim first."""

        raced = False

        def ready(self, session, job) -> bool:  # noqa: ANN001
            if not Racing.raced:
                Racing.raced = True
                with rt.db.session() as other:
                    claims.append(claim_job(other, {"face_build": Racing()}, worker="w2", lease_s=30))
            return True

    with rt.db.session() as session:
        claims.append(claim_job(session, {"face_build": Racing()}, worker="w1", lease_s=30))
    with rt.db.session() as session:
        job = session.query(Job).one()
        assert (job.status, job.worker, job.attempts) == ("running", "w2", 1)
    assert claims[0] is not None and claims[0].attempt == 1
    assert claims[1] is None
    rt.close()
