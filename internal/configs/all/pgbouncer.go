package all

import _ "github.com/keeptune/keeptune/internal/configs/pgbouncer" // pgbouncer.ini
