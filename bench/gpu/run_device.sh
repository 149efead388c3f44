#!/usr/bin/env bash
# The H100/H200 run: the full `rag-harden gpu` profile, then the gpu-marked tests, results under $OUT.
#
#   bash bench/gpu/run_device.sh            # on the GPU machine, from the repository root
#
# The GPU machine has torch, transformers, sentence-transformers, triton, numpy (no pydantic, faiss, presidio):
# the benchmark needs nothing else. Wheels found in .gpu-wheels/ (carried along; it has no network) are installed
# first: faiss-cpu for the host-side rows, pydantic for the gpu-marked tests. Prepare them on a networked machine:
#   pip download --no-deps -d .gpu-wheels faiss-cpu==1.15.1 pydantic pydantic-core annotated-types typing-inspection
set -uo pipefail
OUT="${OUT:-bench/results}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ -d .gpu-wheels ]; then
  python -m pip install --quiet --no-index --no-deps --find-links .gpu-wheels .gpu-wheels/*.whl \
    > "$OUT/pip.log" 2>&1 || echo "some wheels did not install (see $OUT/pip.log)"
fi
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
python -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"
# About 6-8 minutes on an H100: retrieval 100k/1M/5M x 384/768, embedding, generation (two model shapes).
timeout 480 python -m bench.gpu --out "$OUT" --stem gpu-cuda 2>&1 | tee "$OUT/bench.log"
rc=${PIPESTATUS[0]}
if python -c "import pydantic, faiss" 2>/dev/null; then
  timeout 120 python -m pytest -q -p no:cacheprovider -m gpu tests/gpu tests/unit/test_torch_retriever.py \
    2>&1 | tail -30 | tee "$OUT/pytest-gpu.log"
else
  echo "gpu tests not run: pydantic or faiss missing (put their wheels in .gpu-wheels/)" | tee "$OUT/pytest-gpu.log"
fi
exit "$rc"
