package all

import _ "github.com/keeptune/keeptune/internal/configs/haproxy" // haproxy.cfg, several -f files or a directory of *.cfg
