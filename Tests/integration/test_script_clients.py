"""The client libraries that reach the server through Lua scripts, run for real against Larder
and against redis-server: redis-py's Lock, the three strategies of `limits`, an rq worker
running a scheduled job, and a Celery worker (solo pool) with the Redis broker and result
backend. Each test runs on both servers; the answers must be the same."""
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import redis
from redis.exceptions import LockError, LockNotOwnedError

HERE = os.path.dirname(__file__)


@pytest.fixture(params=["larder", "redis"])
def server(request, larder, oracle):
    s = larder if request.param == "larder" else oracle
    c = s.client()
    c.flushall()
    c.script_flush()
    c.close()
    return s


def test_redis_py_lock(server):
    r = server.client()
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert not r.lock("resource", timeout=10).acquire(blocking=False)
    assert lock.owned()
    assert lock.extend(20)
    assert 19_000 < r.pttl("resource") <= 30_000
    assert lock.reacquire()
    lock.release()
    assert r.get("resource") is None
    # A lock whose token another client replaced: release and extend fail, and the key stays.
    taken = r.lock("resource", timeout=10)
    taken.acquire()
    r.set("resource", "someone-else")
    with pytest.raises(LockNotOwnedError):
        taken.release()
    assert r.get("resource") == b"someone-else"
    stolen = r.lock("other", timeout=10)
    stolen.acquire()
    r.set("other", "thief")
    with pytest.raises(LockNotOwnedError):
        stolen.extend(10)
    with pytest.raises(LockError):
        stolen.release()
    # `with` releases on exit.
    with r.lock("ctx", timeout=5, blocking_timeout=1):
        assert r.exists("ctx")
    assert not r.exists("ctx")
    r.close()


def test_limits_strategies(server):
    from limits import parse
    from limits.storage import RedisStorage
    from limits.strategies import (FixedWindowRateLimiter, MovingWindowRateLimiter,
                                   SlidingWindowCounterRateLimiter)
    storage = RedisStorage(f"redis://127.0.0.1:{server.port}")
    assert storage.check()
    item = parse("5/minute")
    for strategy in (FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter):
        limiter = strategy(storage)
        got = [limiter.hit(item, strategy.__name__, "user") for _ in range(7)]
        assert got == [True] * 5 + [False] * 2, strategy.__name__
        assert not limiter.test(item, strategy.__name__, "user")
        stats = limiter.get_window_stats(item, strategy.__name__, "user")
        assert stats.remaining == 0, strategy.__name__
        assert limiter.hit(item, strategy.__name__, "another user")
        limiter.clear(item, strategy.__name__, "user")
        assert limiter.hit(item, strategy.__name__, "user"), strategy.__name__
    storage.reset()


def test_rq_worker_runs_a_scheduled_job(server):
    from rq import Queue, SimpleWorker
    sys.path.insert(0, HERE)
    from apps.jobs import add
    r = server.client()
    q = Queue("default", connection=r)
    assert q.is_empty()
    job = q.enqueue_in(timedelta(seconds=1), add, 2, 3)
    assert job.get_status() == "scheduled"
    time.sleep(1.5)
    worker = SimpleWorker([q], connection=r)
    deadline = time.time() + 20
    while job.get_status(refresh=True) != "finished" and time.time() < deadline:
        worker.work(burst=True, with_scheduler=True)
        time.sleep(0.2)
    assert job.get_status() == "finished"
    assert job.return_value() == 5
    assert q.is_empty()
    r.close()


def test_celery_worker_runs_a_task(server, tmp_path):
    env = dict(os.environ, CELERY_BROKER_URL=f"redis://127.0.0.1:{server.port}/0",
               CELERY_RESULT_BACKEND=f"redis://127.0.0.1:{server.port}/1", PYTHONPATH=HERE)
    log = open(tmp_path / "celery.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "apps.jobs", "worker", "--pool=solo",
                               "--concurrency=1", "--without-mingle", "--without-gossip", "-l", "info"],
                              env=env, cwd=HERE, stdout=log, stderr=subprocess.STDOUT)
    try:
        from celery import Celery
        client = Celery("larder_test_client", broker=env["CELERY_BROKER_URL"], backend=env["CELERY_RESULT_BACKEND"])
        result = client.send_task("apps.jobs.multiply", args=(6, 7))
        assert result.get(timeout=60) == 42
        client.close()
        assert worker.poll() is None, (tmp_path / "celery.log").read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
