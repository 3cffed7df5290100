import pytest

from routing import learning


@pytest.fixture(autouse=True)
def no_learned_model(settings, tmp_path):
    """Tests never read a model trained on this machine: each starts without one."""
    settings.ROUTING_MODEL_PATH = tmp_path / "router.joblib"
    learning.forget_loaded()
    yield
    learning.forget_loaded()
