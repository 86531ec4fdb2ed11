# A Python service for the --server-cmd drill tests: it listens where the lab says
# (KEEPTUNE_ADDR, KEEPTUNE_PORT), turns TCP keepalive on for every accepted connection with
# the idle, interval and count given as arguments (0 0 0: keepalive off), answers each
# request with a small HTTP response and keeps the connection until it fails. With
# KEEPTUNE_TEST_PIDFILE set it writes its pid there.
import os, socket, sys, threading

idle, intvl, cnt = (int(a) for a in sys.argv[1:4])
if os.environ.get("KEEPTUNE_TEST_PIDFILE"):
    with open(os.environ["KEEPTUNE_TEST_PIDFILE"], "w") as f:
        f.write(str(os.getpid()))
addr = os.environ["KEEPTUNE_ADDR"]
ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((addr, int(os.environ["KEEPTUNE_PORT"])))
ls.listen(1024)


def serve(c):
    if idle:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)
    try:
        while True:
            b = c.recv(4096)
            if not b:
                break
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    except OSError:
        pass
    c.close()


while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
