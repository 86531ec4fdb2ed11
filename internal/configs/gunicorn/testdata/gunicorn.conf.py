# Gunicorn configuration: the sync worker ignores keepalive.
import multiprocessing

bind = "0.0.0.0:8000"
workers = multiprocessing.cpu_count() * 2 + 1
keepalive = 75  # behind an ALB (60 s idle)
timeout = 30
worker_class = 'sync'

if False:
    keepalive = 1
