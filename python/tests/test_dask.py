"""`aiop.dask`: a LocalCluster of 2 worker processes gives exactly the single-process scores,
and a worker killed mid-run loses and duplicates nothing."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import aiop

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'aiop[dask]')")
import aiop.dask

TASK = "imagenet-top1"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def specs():
    return aiop.zoo.nb201_specs(500, seed=0)


@pytest.fixture(scope="module")
def single_process(specs):
    return aiop.Predictor.default().predict(aiop.zoo.generate(specs), task=TASK)


def test_cluster_scores_equal_single_process(client, specs, single_process):
    scores = aiop.dask.score(specs, TASK, client, chunk_size=64)
    assert np.array_equal(scores, single_process)
    ranking = aiop.dask.rank(specs, TASK, client, chunk_size=64)
    assert ranking.to_dict() == aiop.rank(aiop.zoo.generate(specs), TASK).to_dict()


def test_files_on_workers(client, torchvision_dir):
    paths = sorted(str(p) for p in torchvision_dir.glob("resnet*.onnx"))
    got = aiop.dask.rank(paths, TASK, client, chunk_size=2)
    assert got.to_dict() == aiop.rank(paths, TASK).to_dict()


def test_a_killed_worker_loses_nothing(client, specs, single_process):
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    # many small chunks, so that most are still to run when a worker dies
    items = specs
    chunks = [items[i : i + 10] for i in range(0, len(items), 10)]
    futures = client.map(
        aiop.dask._chunk_rows,
        chunks,
        task=TASK,
        predictor=None,
        backend="native",
        canonical=False,
        retries=2,
        pure=False,
    )
    first = next(iter(distributed.as_completed(futures)))
    finished_before = sum(f.done() for f in futures)
    os.kill(victim, signal.SIGKILL)
    rows = [row for chunk_rows, failed in client.gather(futures) for row in chunk_rows]
    assert first.done() and finished_before < len(chunks), "the kill came mid-run"
    assert [r[0] for r in rows] == items, "each network once, in order"
    assert np.array_equal(np.array([r[2] for r in rows]), single_process)
    # the killed worker was replaced by its nanny, and the cluster still answers
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()
