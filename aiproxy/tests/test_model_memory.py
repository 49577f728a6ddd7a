"""The per-process memory of enabled models (``aiproxy.selectors``)."""

import pytest

from aiproxy.models import AIModel
from aiproxy.selectors import EnabledModels, ai_model_get_enabled
from aiproxy.tests.factories import AIModelFactory
from project.exceptions import NotFound

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_model_memory_second_lookup_reads_nothing(django_assert_num_queries):
    """An enabled model found once is not read again within the window."""
    AIModelFactory(name="fast")
    ai_model_get_enabled(name="fast")
    with django_assert_num_queries(0):
        assert ai_model_get_enabled(name="fast").name == "fast"


def test_model_memory_off_reads_every_time(settings, django_assert_num_queries):
    """``AI_MODEL_CACHE_SECONDS = 0`` reads the catalogue on every lookup."""
    settings.AI_MODEL_CACHE_SECONDS = 0
    AIModelFactory(name="fast")
    ai_model_get_enabled(name="fast")
    with django_assert_num_queries(1):
        ai_model_get_enabled(name="fast")


def test_model_memory_disabling_in_this_process_applies_at_once():
    """Saving the model (the admin disabling it) forgets what was remembered."""
    model = AIModelFactory(name="fast")
    ai_model_get_enabled(name="fast")
    model.is_enabled = False
    model.save()
    with pytest.raises(NotFound):
        ai_model_get_enabled(name="fast")


def test_model_memory_change_elsewhere_applies_within_the_window():
    """A change this process was not told of waits for the entry to expire."""
    AIModelFactory(name="fast")
    ai_model_get_enabled(name="fast")
    AIModel.objects.filter(name="fast").update(is_enabled=False)  # elsewhere
    assert ai_model_get_enabled(name="fast").name == "fast"  # the documented bound


def test_model_memory_entry_expires(settings):
    """An entry lasts ``AI_MODEL_CACHE_SECONDS``."""
    settings.AI_MODEL_CACHE_SECONDS = 5
    clock = Clock()
    memory = EnabledModels(clock=clock)
    memory.put(AIModelFactory.build(name="fast"))
    clock.now += 4.9
    assert memory.get("fast") is not None
    clock.now += 0.1
    assert memory.get("fast") is None


def test_model_memory_unknown_names_are_not_remembered(django_assert_num_queries):
    """A name that is not an enabled model is read again each time."""
    for _ in range(2):
        with django_assert_num_queries(1), pytest.raises(NotFound):
            ai_model_get_enabled(name="nope")
