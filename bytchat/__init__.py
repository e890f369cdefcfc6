import os

# numpy's OpenBLAS would start a thread per core that spins between calls: the vector
# search's product took twice its time in CPU, taken from the other requests of a busy
# server. One thread here; `bots.knowledge.vectors` splits its one large product itself.
# (Set before numpy loads, which is after Django reads this package.)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bytchat.celery import app as celery_app

__all__ = ["celery_app"]
