keepalive = 65
threads = 4
