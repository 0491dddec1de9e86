"""The pose model's calls in a process of their own (edge/pixels/model_process.py), with the real int8 model
on frames of the real clip: the same people as in-process, in order; its failures and its death reach the
pipeline as a PoseError; it never outlives the pipeline's process."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edge.pixels import cores
from edge.pixels.camera import OpenCVSource
from edge.pixels.model_files import CROP_MODEL, FOOTAGE
from edge.pixels.model_process import DEPTH, ModelProcess
from edge.pixels.pose import OnnxPoseBackend, PoseError
from edge.pixels.runner import CropRunner
from tests.procs import alive, all_gone

pytestmark = pytest.mark.footage


@pytest.fixture(scope="module")
def frames() -> list[tuple[float, np.ndarray]]:
    if not FOOTAGE.is_file():
        pytest.fail(f"{FOOTAGE} is missing: run `bash models/fetch_footage.sh` first")
    with OpenCVSource(FOOTAGE) as source:
        return list(itertools.islice(source, 40))


@pytest.fixture(scope="module")
def model() -> OnnxPoseBackend:
    return OnnxPoseBackend(CROP_MODEL, threads=1)


def test_the_stream_finds_the_same_people_with_the_model_in_its_own_process(model, frames):
    on_thread = [people for _, _, people in CropRunner(model, model).stream(frames)]
    with ModelProcess([model, model], cores.model_cores()) as process:
        runner = CropRunner(model, model)
        got = list(runner.stream(frames, process))
    assert [t for t, _, _ in got] == [t for t, _ in frames]
    assert sum(len(p) for p in on_thread) >= len(frames)  # people are there to find
    for mine, theirs in zip([p for _, _, p in got], on_thread, strict=True):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    assert runner.calls["crop"] > 0  # crops of every size the people need, not only the whole frame


def test_a_stream_stopped_early_leaves_nothing_in_the_model_for_the_next(model, frames):
    with ModelProcess([model, model]) as process:
        first = CropRunner(model, model).stream(frames, process)
        for _ in range(3):
            next(first)
        first.close()  # frames still in the model: the caller stopped (a camera unplugged, say)
        again = [people for _, _, people in CropRunner(model, model).stream(frames[:10], process)]
    fresh = [people for _, _, people in CropRunner(model, model).stream(frames[:10])]
    assert [len(p) for p in again] == [len(p) for p in fresh]
    for mine, theirs in zip(again, fresh, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_allclose(a.bbox, b.bbox, atol=1e-2)


def test_outputs_come_back_in_order_with_frames_of_growing_size_in_the_model(model, frames):
    image = frames[0][1]
    # Small crops first, then whole frames, then more calls per frame than before: every buffer grows.
    jobs = [[model.prepare(image, (600, 200, 900, 700), (96, 160))],
            [model.prepare(image, None, (640, 384))],
            [model.prepare(image, (0, 0, 900, 900), (320, 320)), model.prepare(image, None, (640, 384))],
            [model.prepare(image, (300, 100, 1200, 900), (224, 192))]]
    expected = [[model.run(p) for p in job] for job in jobs]
    model.stage_s["inference"] = 0.0
    assert len(jobs) == DEPTH + 1
    with ModelProcess([model], cores.model_cores()) as process:
        for job in jobs[:DEPTH]:
            process.put([(0, p) for p in job])
        with pytest.raises(RuntimeError, match=f"holds {DEPTH} frames already"):
            process.put([(0, p) for p in jobs[-1]])
        got = [process.get()]
        process.put([(0, p) for p in jobs[-1]])
        got += [process.get() for _ in range(DEPTH)]
        with pytest.raises(RuntimeError, match="no frame is waiting"):
            process.get()
    for outs, wanted in zip(got, expected, strict=True):
        assert [o.shape for o in outs] == [w.shape for w in wanted]
        for o, w in zip(outs, wanted, strict=True):
            np.testing.assert_allclose(o, w, atol=1e-4)
    assert model.stage_s["inference"] > 0  # the model's process's seconds count as inference here


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: nothing to keep apart")
def test_the_model_process_runs_on_the_model_cores_only(model):
    with ModelProcess([model], cores.model_cores()) as process:
        assert os.sched_getaffinity(process.pid) == cores.model_cores()
        assert not os.sched_getaffinity(process.pid) & cores.side_cores()


def test_a_model_file_gone_since_the_pipeline_loaded_it_stops_the_start_with_its_name(tmp_path):
    path = tmp_path / "pose.onnx"
    shutil.copy(CROP_MODEL, path)
    backend = OnnxPoseBackend(path, threads=1)
    path.unlink()  # an update removed it, say
    with pytest.raises(PoseError, match=f"pose model not found: {path}"):
        ModelProcess([backend])


def test_a_killed_model_process_ends_the_stream_with_a_pose_error_that_says_so(model, frames):
    runner = CropRunner(model, model)
    with ModelProcess([model, model]) as process:
        stream = runner.stream(frames, process)
        next(stream)
        os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(PoseError, match=r"the pose model's process ended \(exit code -9\)"):
            for _ in stream:
                pass


def test_ctrl_c_and_sigterm_leave_stopping_to_the_pipeline(model, frames):
    # systemd's stop and Ctrl-C reach every process of the station; the pipeline finishes its frames.
    with ModelProcess([model, model]) as process:
        os.kill(process.pid, signal.SIGTERM)
        os.kill(process.pid, signal.SIGINT)
        got = list(CropRunner(model, model).stream(frames[:5], process))
        assert len(got) == 5
        pid = process.pid
    assert all_gone([pid], within_s=1.0)  # closing stops it at once


def test_the_model_process_does_not_outlive_a_killed_pipeline(tmp_path):
    # kill -9 of the station must not leave a model process behind, holding a core and its memory.
    script = tmp_path / "pipeline.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from edge.pixels.model_process import ModelProcess
        from edge.pixels.pose import OnnxPoseBackend
        if __name__ == "__main__":
            process = ModelProcess([OnnxPoseBackend({str(CROP_MODEL)!r}, threads=1)])
            print(process.pid, flush=True)
            time.sleep(60)
    """))
    pipeline = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert pipeline.stdout is not None
        child = int(pipeline.stdout.readline())
        assert alive(child)
        pipeline.kill()
        pipeline.wait()
        assert all_gone([child])
    finally:
        pipeline.kill()
