"""CUDA only: the GPU equals the CPU bit for bit (the checks of benchmarks/gpu_check.py)."""

import importlib.util
import pathlib

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _gpu_check():
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_equals_cpu():
    assert _gpu_check().run_checks(torch.device("cuda"), quick=True) == []
