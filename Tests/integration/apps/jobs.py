"""Task code the real queue libraries run in test_script_clients.py (they import it by name)."""
import os

from celery import Celery


def add(a, b):
    return a + b


# The broker and the result backend: the server under test, named by the test's environment.
celery_app = Celery("larder_test", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
                    backend=os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1"))


@celery_app.task(name="apps.jobs.multiply")
def multiply(a, b):
    return a * b
